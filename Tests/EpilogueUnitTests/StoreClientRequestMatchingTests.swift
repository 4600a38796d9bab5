import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import EpilogueStoreClient

/// `StoreClientHandler` on an `EmbeddedChannel`: answers are matched to requests by request id,
/// streams of different requests may interleave, and a request that timed out never receives
/// (or hands to another request) an answer that comes too late.
@Suite struct StoreClientRequestMatchingTests {
    /// What a promise ended with, read synchronously (the embedded loop completes futures inline).
    final class Outcome: @unchecked Sendable {
        var result: Result<[ServerMessage], any Error>?
        var messages: [ServerMessage]? { if case .success(let m)? = result { return m } else { return nil } }
        var error: StoreClientError? { if case .failure(let e)? = result { return e as? StoreClientError } else { return nil } }
    }

    struct Connection {
        var channel: EmbeddedChannel
        var handler: StoreClientHandler

        /// Sends `message` and returns the request id it went out with, and its outcome.
        func send(_ message: ClientMessage, timeout: TimeAmount = .seconds(5)) throws -> (id: UInt32, outcome: Outcome) {
            let promise = channel.eventLoop.makePromise(of: [ServerMessage].self)
            let outcome = Outcome()
            promise.futureResult.whenComplete { outcome.result = $0 }
            handler.send(message, traceID: nil, timeout: timeout, promise: promise)
            channel.embeddedEventLoop.run()  // the tick flush
            let frame = try #require(try channel.readOutbound(as: Frame.self))
            #expect(try ClientMessage(frame: frame) == message)
            return (frame.requestID, outcome)
        }

        func answer(_ message: ServerMessage, id: UInt32, more: Bool = false) throws {
            try channel.writeInbound(message.frame(requestID: id, flags: more ? .streamContinues : []))
        }
    }

    /// A connection past its handshake (no secret).
    func connected() throws -> Connection {
        let (channel, handler) = try embeddedStoreLink()
        return Connection(channel: channel, handler: handler)
    }

    private func record(_ id: String) -> ServerMessage {
        .record(WireRecord(id: id, version: 1, updatedAt: 0, encoding: .plain, dictionaryID: 0, body: ByteBuffer()))
    }

    private func hit(_ id: String) -> ServerMessage {
        .hit(SearchHit(id: id, score: -1, film: "f", subject: "s", snippet: ""))
    }

    @Test func interleavedStreamsAndSingleAnswersGoToTheirOwnRequests() throws {
        let c = try connected()
        let (queryID, query) = try c.send(.query(RecordFilter(), limit: 10, offset: 0))
        let (searchID, search) = try c.send(.search(text: "dream", RecordFilter(), limit: 10))
        let (pingID, ping) = try c.send(.ping(ByteBuffer(string: "p")))
        #expect(Set([queryID, searchID, pingID]).count == 3, "request ids must be distinct")
        #expect(!Set([queryID, searchID, pingID]).contains(0), "id 0 is the handshake's")

        try c.answer(hit("h1"), id: searchID, more: true)
        try c.answer(record("r1"), id: queryID, more: true)
        try c.answer(hit("h2"), id: searchID, more: true)
        #expect(query.result == nil && search.result == nil && ping.result == nil, "no stream has ended yet")
        try c.answer(.pong(ByteBuffer(string: "p")), id: pingID)
        #expect(ping.messages == [.pong(ByteBuffer(string: "p"))])
        try c.answer(record("r2"), id: queryID, more: true)
        try c.answer(.resultEnd(returned: 2, total: 2), id: searchID)
        #expect(search.messages == [hit("h1"), hit("h2"), .resultEnd(returned: 2, total: 2)])
        #expect(query.result == nil)
        try c.answer(.resultEnd(returned: 2, total: 5), id: queryID)
        #expect(query.messages == [record("r1"), record("r2"), .resultEnd(returned: 2, total: 5)])
        #expect(c.handler.inFlight == 0)
        #expect(c.channel.isActive)
        _ = try? c.channel.finish()
    }

    @Test func answersOutOfOrderAreMatchedByID() throws {
        let c = try connected()
        var sent: [(UInt32, Outcome, String)] = []
        for n in 0..<20 {
            let (id, outcome) = try c.send(.get(id: "id-\(n)"))
            sent.append((id, outcome, "id-\(n)"))
        }
        // Answer in a fixed shuffled order (seeded), each with the record its request asked for.
        var rng = SplitMix64(seed: 12)
        print("StoreClientRequestMatchingTests: answer order seed 12")
        var order = sent
        order.shuffle(using: &rng)
        for (id, _, name) in order { try c.answer(record(name), id: id) }
        for (_, outcome, name) in sent { #expect(outcome.messages == [record(name)], "\(name)") }
        _ = try? c.channel.finish()
    }

    @Test func answerToAnIDThatWasNeverSentIsDroppedAndOthersStillMatch() throws {
        let c = try connected()
        let (id, outcome) = try c.send(.get(id: "a"))
        try c.answer(record("stray"), id: id &+ 1000)
        try c.answer(record("stray-stream"), id: id &+ 1001, more: true)
        #expect(outcome.result == nil)
        try c.answer(record("a"), id: id)
        #expect(outcome.messages == [record("a")])
        #expect(c.channel.isActive)
        _ = try? c.channel.finish()
    }

    /// A timed-out request fails with `timeout`; the connection (most likely dead) is dropped, so
    /// the others fail as unavailable rather than wait — and the late answer reaches no one.
    @Test func timedOutRequestFailsAndItsLateAnswerIsNeverDelivered() throws {
        let c = try connected()
        let (slowID, slow) = try c.send(.get(id: "slow"), timeout: .milliseconds(100))
        let (otherID, other) = try c.send(.get(id: "other"), timeout: .seconds(10))
        c.channel.embeddedEventLoop.advanceTime(by: .milliseconds(99))
        #expect(slow.result == nil)
        c.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(slow.error == .timeout(milliseconds: 100))
        #expect(other.error == .unavailable("store stopped answering on this connection"))
        #expect(c.handler.inFlight == 0)
        #expect(!c.channel.isActive, "the connection that went silent is closed")
        // The answers arrive after all (if the closed channel still passes them up): nobody is
        // waiting for them, so nothing changes (completing a promise twice would trap).
        try? c.answer(record("slow"), id: slowID)
        try? c.answer(record("other"), id: otherID)
        #expect(c.handler.inFlight == 0)
        #expect(slow.error == .timeout(milliseconds: 100))
        #expect(other.error == .unavailable("store stopped answering on this connection"))
    }

    /// A stream that is still arriving when its request times out is cut off, not delivered in part.
    @Test func streamThatOutlivesItsTimeoutIsNotDeliveredInPart() throws {
        let c = try connected()
        let (id, outcome) = try c.send(.query(RecordFilter(), limit: 10, offset: 0), timeout: .milliseconds(50))
        try c.answer(record("r1"), id: id, more: true)
        c.channel.embeddedEventLoop.advanceTime(by: .milliseconds(50))
        #expect(outcome.error == .timeout(milliseconds: 50))
        #expect(outcome.messages == nil)
    }

    /// The connection drops with requests in flight: each fails at once as unavailable, none waits for its timeout.
    @Test func losingTheConnectionFailsEveryPendingRequestAtOnce() throws {
        let c = try connected()
        let (_, first) = try c.send(.get(id: "a"))
        let (_, second) = try c.send(.query(RecordFilter(), limit: 10, offset: 0))
        c.channel.pipeline.fireChannelInactive()
        #expect(first.error == .unavailable("connection to the store closed"))
        #expect(second.error == .unavailable("connection to the store closed"))
        #expect(c.handler.inFlight == 0)
        _ = try? c.channel.finish()
    }

    /// A store that refuses the handshake fails the readiness promise with its reason and is closed.
    @Test func aRefusedHandshakeFailsReadinessWithTheStoresReasonAndCloses() throws {
        let channel = EmbeddedChannel()
        let ready = channel.eventLoop.makePromise(of: Void.self)
        let handler = StoreClientHandler(secret: nil, clientName: "t", readyPromise: ready)
        let readiness = Outcome()
        ready.futureResult.whenComplete { result in readiness.result = result.map { [] } }
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try channel.readOutbound(as: Frame.self)  // HELLO
        try channel.writeInbound(ServerMessage.error(code: .unauthorized, message: "this store requires the shared secret").frame(requestID: 0))
        #expect(readiness.error == .unavailable("store refused the handshake: UNAUTHORIZED: this store requires the shared secret "
                                                + "(the gateway's --store-secret must equal the store's --auth-secret)"))
        #expect(!channel.isActive)
        // A request on it fails at once rather than waiting for a timeout.
        let promise = channel.eventLoop.makePromise(of: [ServerMessage].self)
        let outcome = Outcome()
        promise.futureResult.whenComplete { outcome.result = $0 }
        handler.send(.stats, traceID: nil, timeout: .seconds(5), promise: promise)
        #expect(outcome.error == .unavailable("connection is not ready"))
    }
}
