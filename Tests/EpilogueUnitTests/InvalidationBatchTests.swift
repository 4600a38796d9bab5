import EpilogueProtocol
import NIOEmbedded
import Testing
@testable import EpilogueStore

/// The store's side of PROTOCOL.md "Tracking" without sockets: how pending ids become INVALIDATE
/// pushes, and how the tracking table fans a write out to its subscribers.
@Suite struct InvalidationBatchTests {
    @Test func idsAddedBeforeTheQueuedSendGoOutInOnePush() {
        var batch = InvalidationBatch(maximumPending: 100)
        let first = batch.add(["a"]), second = batch.add(["b", "c"])
        #expect(first && !second)
        let pushed = batch.take(), again = batch.take()
        #expect(pushed == [.invalidate(ids: ["a", "b", "c"])])
        #expect(again == [])
        let afterwards = batch.add(["d"])
        #expect(afterwards)
    }

    @Test func aLongBatchIsSplitIntoFramesOfAtMostAThousandIds() {
        var batch = InvalidationBatch(maximumPending: 10_000)
        let ids = (0..<2_500).map { "id-\($0)" }
        _ = batch.add(ids)
        let pushes = batch.take()
        #expect(pushes.count == 3)
        #expect(pushes.flatMap { message -> [String] in
            guard case .invalidate(let ids) = message else { return [] }
            return ids
        } == ids)
    }

    /// A connection that does not read its pushes must not grow the store's memory without
    /// bound: past the limit it is told "everything changed" once.
    /// A connection that is not writable holds its ids; the next id queues a send again, and
    /// what was held goes out with it.
    @Test func heldIdsGoOutWithTheNextSend() {
        var batch = InvalidationBatch(maximumPending: 100)
        _ = batch.add(["a"])
        batch.hold()
        let queues = batch.add(["b"])
        #expect(queues)
        let pushed = batch.take()
        #expect(pushed == [.invalidate(ids: ["a", "b"])])
    }

    @Test func fallingTooFarBehindCollapsesToOneEmptyInvalidate() {
        var batch = InvalidationBatch(maximumPending: 3)
        _ = batch.add(["a", "b"])
        _ = batch.add(["c", "d"])
        _ = batch.add(["e"])
        let collapsed = batch.take()
        #expect(collapsed == [.invalidate(ids: [])])
        _ = batch.add(["f"])
        let next = batch.take()
        #expect(next == [.invalidate(ids: ["f"])])
    }

    @Test func everySubscriberGetsEveryChangeOnItsOwnLoopUntilItUnsubscribes() {
        let table = TrackingTable()
        let (first, second) = (EmbeddedEventLoop(), EmbeddedEventLoop())
        let firstGot = Received(), secondGot = Received()
        let one = table.subscribe(loop: first) { firstGot.append(firstGot.subscription?.take() ?? []) }
        let two = table.subscribe(loop: second) { secondGot.append(secondGot.subscription?.take() ?? []) }
        firstGot.subscription = one
        secondGot.subscription = two
        table.publish(["x"])
        table.publish(["y"])
        #expect(firstGot.messages.isEmpty)  // delivered on the subscriber's loop, not the publisher's thread
        first.run()
        second.run()
        #expect(firstGot.messages == [.invalidate(ids: ["x", "y"])])
        #expect(secondGot.messages == [.invalidate(ids: ["x", "y"])])
        table.unsubscribe(one)
        table.publish(["z"])
        first.run()
        second.run()
        #expect(firstGot.messages == [.invalidate(ids: ["x", "y"])])
        #expect(secondGot.messages.last == .invalidate(ids: ["z"]))
        #expect(table.count == 1)
    }

    final class Received: @unchecked Sendable {
        var subscription: TrackingTable.Subscription?
        private(set) var messages: [ServerMessage] = []
        func append(_ batch: [ServerMessage]) { messages += batch }
    }
}
