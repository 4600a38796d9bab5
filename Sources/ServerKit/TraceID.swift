import Synchronization

/// Ids that follow one command across the gateway's and the store's logs.
public enum TraceID {
    /// A random start per process, then a counter: unique within the process, unlikely to collide
    /// across gateways, and no `getrandom` system call per command (which showed in GET profiles).
    private static let next = Atomic<UInt64>(UInt64.random(in: 1...UInt64.max / 2))

    public static func make() -> UInt64 {
        next.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// 16 lower-case hex digits, as both services log it.
    public static func format(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
