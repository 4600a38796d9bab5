/// Trace ids follow one gateway command into the store's logs (see PROTOCOL.md, TRACED).
public enum TraceID {
    public static func make() -> UInt64 { UInt64.random(in: 1...UInt64.max) }

    /// 16 lower-case hex digits, as both services log it.
    public static func format(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
