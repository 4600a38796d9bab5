import EpilogueProtocol
import EpilogueShared
import NIOCore

/// The store's tracking connections (PROTOCOL.md, "Tracking"): who gets INVALIDATE pushes, in
/// broadcast mode — every change goes to every subscriber, so no read leaves any state here. The
/// server owns one; a connection subscribes when it is answered TRACK 1 and unsubscribes on TRACK
/// 0 or when it closes; write completions `publish` from the fsync thread, before they hand the
/// writer its answer.
public final class TrackingTable: Sendable {
    /// One tracking connection: the ids it has not been sent yet, and how to send them on its loop.
    final class Subscription: Sendable {
        private let batch: Locked<InvalidationBatch>
        private let loop: any EventLoop
        /// Runs on `loop`: `take`s the pushes and writes them, or `hold`s them while not writable.
        private let deliver: @Sendable () -> Void

        fileprivate init(loop: any EventLoop, maximumPending: Int, deliver: @escaping @Sendable () -> Void) {
            self.batch = Locked(InvalidationBatch(maximumPending: maximumPending))
            self.loop = loop
            self.deliver = deliver
        }

        fileprivate func enqueue(_ ids: [String]) {
            // One queued send per burst: ids published before it runs ride along with it.
            guard batch.withLock({ $0.add(ids) }) else { return }
            loop.execute(deliver)
        }

        /// The pushes to write now.
        func take() -> [ServerMessage] { batch.withLock { $0.take() } }

        /// Not writable: keep the ids (bounded) until the connection drains or more arrive.
        func hold() { batch.withLock { $0.hold() } }
    }

    private let subscriptions = Locked<[ObjectIdentifier: Subscription]>([:])
    private let maximumPending: Int

    /// Ids a subscriber that does not read may fall behind by before it is sent "everything changed".
    public static let defaultMaximumPending = 65_536

    public init(maximumPending: Int = TrackingTable.defaultMaximumPending) {
        self.maximumPending = maximumPending
    }

    /// Connections currently tracking.
    public var count: Int { subscriptions.withLock { $0.count } }

    /// Starts pushes to a connection on `loop`; `deliver` runs there when ids are waiting.
    func subscribe(loop: any EventLoop, deliver: @escaping @Sendable () -> Void) -> Subscription {
        let subscription = Subscription(loop: loop, maximumPending: maximumPending, deliver: deliver)
        subscriptions.withLock { $0[ObjectIdentifier(subscription)] = subscription }
        return subscription
    }

    func unsubscribe(_ subscription: Subscription) {
        _ = subscriptions.withLock { $0.removeValue(forKey: ObjectIdentifier(subscription)) }
    }

    /// These records changed and the change is durable: queue a push to every tracking connection.
    /// Called before the writer's answer is queued, so no push leaves after the acknowledgement.
    func publish(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        for subscription in subscriptions.withLock({ Array($0.values) }) { subscription.enqueue(ids) }
    }
}
