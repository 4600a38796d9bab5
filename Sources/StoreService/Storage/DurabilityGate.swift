import Foundation
import Logging

/// Decides when an appended write may be acknowledged, per `FsyncPolicy`.
///
/// Positions are *logical*: the count of bytes ever appended, which keeps growing across
/// compactions, so a waiter's position stays meaningful when the file under it is swapped.
/// Under `always`, a single syncer thread fsyncs whatever has been appended and releases every
/// waiter it covers — concurrent writers share one fsync (group commit).
final class DurabilityGate: @unchecked Sendable {
    /// Called once with nil when durable, or with the error that prevents it.
    typealias Waiter = @Sendable ((any Error)?) -> Void

    private let condition = NSCondition()
    private let policy: FsyncPolicy
    private let batchInterval: TimeInterval
    private let log: RecordLog
    private let logger: Logger
    // Guarded by `condition`:
    private var appended: UInt64 = 0
    private var synced: UInt64 = 0
    private var syncing = false
    private var stopped = false
    private var waiters: [(position: UInt64, waiter: Waiter)] = []
    private var thread: Thread?
    private var fsyncs: UInt64 = 0

    /// fsyncs done so far; read under the condition's lock, as the sync thread writes it.
    var fsyncCount: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return fsyncs
    }

    init(policy: FsyncPolicy, batchInterval: TimeInterval = 0.1, log: RecordLog, logger: Logger) {
        self.policy = policy
        self.batchInterval = batchInterval
        self.log = log
        self.logger = logger
        if policy != .never {
            // The thread keeps the gate alive until `stop()` ends its loop.
            let thread = Thread { self.syncLoop() }
            thread.name = "epilogue-fsync"
            self.thread = thread
            thread.start()
        }
    }

    /// Records that `count` bytes were appended; returns the position to wait for.
    func noteAppended(_ count: Int) -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        appended += UInt64(count)
        condition.broadcast()
        return appended
    }

    /// Calls `waiter` once everything up to `position` is durable under the policy: at once when
    /// it already is (or the policy does not wait), else from the syncer thread after its fsync.
    /// Callbacks, not async: the server's event loops wait this way, so a write costs no task hop.
    func whenDurable(_ position: UInt64, _ waiter: @escaping Waiter) {
        guard policy == .always else { return waiter(nil) }
        condition.lock()
        if synced >= position {
            condition.unlock()
            return waiter(nil)
        }
        if stopped {
            condition.unlock()
            return waiter(StorageError.io(operation: "fsync", path: log.path, errno: ECANCELED))
        }
        waiters.append((position, waiter))
        condition.broadcast()
        condition.unlock()
    }

    /// Waiters a file swap made durable, to be resumed once the caller has let go of the store's
    /// lock (their callbacks may take it).
    struct Released: Sendable {
        fileprivate let waiters: [(Waiter, (any Error)?)]

        func resume() {
            for (waiter, error) in waiters { waiter(error) }
        }
    }

    /// Runs `body` (a file swap) while no fsync is in flight, then counts everything appended so
    /// far as durable: the swapped-in file was fsynced whole before the rename. The caller resumes
    /// the waiters this released (`Released.resume`) after releasing its own lock.
    func withSyncPaused(_ body: () throws -> Void) rethrows -> Released {
        condition.lock()
        while syncing { condition.wait() }
        defer { condition.unlock() }
        try body()
        let ready = releaseWaiters(upTo: appended, error: nil)
        synced = appended
        return Released(waiters: ready)
    }

    /// Flushes what is pending and stops the syncer thread.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while syncing { condition.wait() }
        condition.unlock()
        if policy != .never { try? log.sync() }
        condition.lock()
        let ready = releaseWaiters(upTo: appended, error: nil)
        synced = appended
        condition.unlock()
        resume(ready)
    }

    private func syncLoop() {
        condition.lock()
        while true {
            switch policy {
            case .always:
                while !stopped && (waiters.isEmpty || synced >= appended) { condition.wait() }
            case .batch:
                while !stopped && synced >= appended { condition.wait() }
                // Let writes accumulate for the interval; appends broadcast, so wait out the deadline.
                let deadline = Date().addingTimeInterval(batchInterval)
                while !stopped && Date() < deadline { _ = condition.wait(until: deadline) }
            case .never:
                break
            }
            if stopped { break }
            let target = appended
            syncing = true
            condition.unlock()
            var failure: (any Error)?
            do { try log.sync() } catch { failure = error }
            condition.lock()
            syncing = false
            fsyncs += 1
            if let failure {
                logger.error("fsync failed; writes waiting on it are failed", metadata: ["error": "\(failure)"])
                let failed = releaseWaiters(upTo: target, error: failure)
                condition.broadcast()
                condition.unlock()
                resume(failed)
                condition.lock()
                continue
            }
            synced = max(synced, target)
            let ready = releaseWaiters(upTo: synced, error: nil)
            condition.broadcast()
            condition.unlock()
            resume(ready)
            condition.lock()
        }
        condition.unlock()
    }

    private func releaseWaiters(upTo position: UInt64, error: (any Error)?) -> [(Waiter, (any Error)?)] {
        var ready: [(Waiter, (any Error)?)] = []
        waiters.removeAll { waiter in
            guard waiter.position <= position else { return false }
            ready.append((waiter.waiter, error))
            return true
        }
        return ready
    }

    private func resume(_ ready: [(Waiter, (any Error)?)]) {
        for (waiter, error) in ready { waiter(error) }
    }
}
