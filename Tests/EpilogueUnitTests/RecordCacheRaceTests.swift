import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import EpilogueStoreClient

/// The fill race through a real `StoreClientHandler` on an `EmbeddedChannel`: the store's
/// INVALIDATE (request id 0) reaches the cache through the handler, and a GET's answer keeps its
/// record only if no invalidation of that id came between the GET and its answer.
@Suite struct RecordCacheRaceTests {
    struct Link {
        var channel: EmbeddedChannel
        var handler: StoreClientHandler
        var cache: SharedRecordCache
    }

    /// A connection past its handshake whose pushes go to a serving cache, as `StorePool` wires slot 0.
    func link() throws -> Link {
        let cache = SharedRecordCache(capacity: 1 << 20)
        cache.trackingStarted()
        let (channel, handler) = try embeddedStoreLink(onInvalidate: { cache.invalidate($0) })
        return Link(channel: channel, handler: handler, cache: cache)
    }

    private static let record = Record(id: "x", content: TestSupport.content(), version: 1, updatedAt: 0)

    /// Sends GET x the way `StoreClient.send` does for a miss (ticket first), runs `between`,
    /// answers it, and hands the answer to the cache. Returns what the cache then holds for x.
    private func get(on link: Link, between: (Link) throws -> Void) throws -> Record? {
        let cache = link.cache
        let ticket = try #require(cache.beginFill("x"))
        let promise = link.channel.eventLoop.makePromise(of: [ServerMessage].self)
        promise.futureResult.whenComplete { cache.completeFill(ticket, with: (try? $0.get()) == nil ? nil : Self.record) }
        link.handler.send(.get(id: "x"), traceID: nil, timeout: .seconds(5), promise: promise)
        link.channel.embeddedEventLoop.run()
        let frame = try #require(try link.channel.readOutbound(as: Frame.self))
        try between(link)
        let wire = WireRecord(id: "x", version: 1, updatedAt: 0, encoding: .plain, dictionaryID: 0,
                              body: RecordBody.encode(Self.record.content))
        try link.channel.writeInbound(ServerMessage.record(wire).frame(requestID: frame.requestID))
        return link.cache.lookup("x")
    }

    private func push(_ ids: [String], on link: Link) throws {
        try link.channel.writeInbound(ServerMessage.invalidate(ids: ids).frame(requestID: 0))
    }

    @Test func anAnswerWithNothingInBetweenIsKept() throws {
        let link = try link()
        #expect(try get(on: link) { _ in } == Self.record)
    }

    @Test func anAnswerCrossedByAnInvalidateOfItsIdIsNotKept() throws {
        let link = try link()
        #expect(try get(on: link) { try push(["x"], on: $0) } == nil)
        #expect(link.cache.pushesApplied == 1)
    }

    @Test func anInvalidateOfAnotherIdDoesNotStopTheFill() throws {
        let link = try link()
        #expect(try get(on: link) { try push(["y"], on: $0) } == Self.record)
    }

    @Test func anInvalidateAfterTheFillDropsTheRecord() throws {
        let link = try link()
        #expect(try get(on: link) { _ in } == Self.record)
        try push(["x"], on: link)
        #expect(link.cache.lookup("x") == nil)
    }

    /// The tracking connection closing: `StorePool` calls `trackingLost`, and an answer that was
    /// in flight on another connection keeps nothing.
    @Test func aLostTrackingConnectionFlushesAndBlocksAnswersInFlight() throws {
        let link = try link()
        #expect(try get(on: link) { $0.cache.trackingLost() } == nil)
        #expect(link.cache.count == 0 && !link.cache.isServing)
    }
}
