/// Mutable state behind a reader–writer lock: any number of readers at once, or one writer.
///
/// For state that is read far more often, and for far longer, than it is written: the store's
/// index, which a SEARCH ranks for milliseconds at a million records while GETs on the other
/// event loop only need a lookup. A plain `Locked` made each of them wait for the other.
///
/// A pthread rwlock (which ThreadSanitizer understands, like `Locked`'s mutex) that prefers
/// writers: once a writer waits, new readers queue behind it, so a steady stream of overlapping
/// reads cannot starve writes (glibc's default prefers readers).
public final class ReadWriteLocked<Value>: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
    // Behind a pointer, not a stored property: concurrent readers then share it without the
    // runtime's exclusivity bookkeeping of class properties.
    private let value = UnsafeMutablePointer<Value>.allocate(capacity: 1)

    public init(_ initial: Value) {
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        #if canImport(Glibc)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        #endif
        lock.initialize(to: pthread_rwlock_t())
        precondition(pthread_rwlock_init(lock, &attributes) == 0, "pthread_rwlock_init")
        pthread_rwlockattr_destroy(&attributes)
        value.initialize(to: initial)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
        value.deinitialize(count: 1)
        value.deallocate()
    }

    /// Exclusive access, to change the value (waits for every reader and writer to finish).
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        precondition(pthread_rwlock_wrlock(lock) == 0, "pthread_rwlock_wrlock")
        defer { pthread_rwlock_unlock(lock) }
        return try body(&value.pointee)
    }

    /// Shared access: other readers may run at the same time, writers wait.
    public func withReadLock<T, E: Error>(_ body: (Value) throws(E) -> T) throws(E) -> T {
        precondition(pthread_rwlock_rdlock(lock) == 0, "pthread_rwlock_rdlock")
        defer { pthread_rwlock_unlock(lock) }
        return try body(value.pointee)
    }
}
