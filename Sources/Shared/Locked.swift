import NIOConcurrencyHelpers

/// Mutable state behind a lock: the one way this project guards state shared between threads.
///
/// A pthread mutex (NIO's `NIOLockedValueBox`) rather than `Synchronization.Mutex`: on Linux the
/// latter locks with raw futex calls that ThreadSanitizer cannot see, so every access made under
/// it is reported as a data race and real races drown in false ones (`swift test
/// --sanitize=thread` reported 19 such warnings in the store's suites). Typed throws pass through.
public final class Locked<Value>: @unchecked Sendable {
    private let box: NIOLockedValueBox<Value>

    public init(_ value: Value) { box = NIOLockedValueBox(value) }

    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        // NIOLockedValueBox rethrows untyped errors; a Result carries the typed one out.
        let result = box.withLockedValue { value in Result { () throws(E) -> T in try body(&value) } }
        return try result.get()
    }
}
