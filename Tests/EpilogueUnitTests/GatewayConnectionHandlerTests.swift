import EpilogueModel
import EpilogueProtocol
import EpilogueServerKit
import EpilogueTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import EpilogueGateway
@testable import EpilogueStoreClient

/// `GatewayConnectionHandler` on an EmbeddedChannel, with store answers the test gives by hand:
/// what the machine decides reaches the wire, in order, and shutdown closes the channel.
@Suite struct GatewayConnectionHandlerTests {
    /// Store requests the handler sent, each answered when the test says.
    final class HeldStore: StoreRequester {
        var pending: [(message: ClientMessage, promise: EventLoopPromise<[ServerMessage]>)] = []
        let loop: any EventLoop
        init(loop: any EventLoop) { self.loop = loop }
        /// Holds the request; the test answers with the store's frames, decoded as the client does.
        func send<Answer>(_ request: StoreRequest<Answer>, traceID: UInt64) -> EventLoopFuture<Answer> {
            let promise = loop.makePromise(of: [ServerMessage].self)
            pending.append((request.message, promise))
            return promise.futureResult.flatMapThrowing { try request.answer(from: $0, inflater: RecordInflater()) }
        }
        /// Not held: these tests stream no EXPORT.
        func exportStream(_ filter: RecordFilter, on loop: any EventLoop,
                          receive: @escaping @Sendable (Record) -> Void) -> (StoreStream, EventLoopFuture<Void>) {
            (StoreStream(loop: loop, idleTimeout: .seconds(1)), loop.makeFailedFuture(StoreClientError.unavailable("no export here")))
        }
    }

    private func channel(maximumInFlight: Int = 128) throws -> (EmbeddedChannel, HeldStore) {
        let channel = EmbeddedChannel()
        let store = HeldStore(loop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(GatewayConnectionHandler(
            session: GatewaySession(writeToken: nil), maximumInFlight: maximumInFlight, logger: TestSupport.logger,
            figures: { [] }, store: store))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, store)
    }

    private func send(_ channel: EmbeddedChannel, _ lines: String...) throws {
        for line in lines { try channel.writeInbound(LineEvent.line(ByteBuffer(string: line))) }
        channel.pipeline.fireChannelReadComplete()
    }

    /// Everything written so far, as text.
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    private func pong(_ store: HeldStore, _ index: Int) {
        store.pending[index].promise.succeed([.pong(ByteBuffer(string: "gateway"))])
    }

    @Test func pipelinedCommandsAreSentAtOnceAndAnsweredInTheOrderTheyWereSent() throws {
        let (channel, store) = try channel()
        try send(channel, "PING", "GET missing", "HELP PING")
        #expect(store.pending.count == 2, "both store commands are sent before either is answered")
        store.pending[1].promise.succeed([.error(code: .notFound, message: "no record with id 'missing'")])
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == "", "GET's answer waits for PING's")
        pong(store, 0)
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        #expect(text.hasPrefix("OK PONG\r\n.\r\nERR NOT_FOUND no record with id 'missing'\r\n.\r\nOK"), "\(text)")
        _ = try? channel.finish()
    }

    @Test func atTheLimitTheHandlerStopsReadingAndRunsQueuedLinesAsRepliesGoOut() throws {
        let (channel, store) = try channel(maximumInFlight: 1)
        try send(channel, "PING", "PING")
        #expect(store.pending.count == 1, "the second PING waits for room")
        pong(store, 0)
        channel.embeddedEventLoop.run()
        #expect(store.pending.count == 2, "the queued PING runs once the first is answered")
        pong(store, 1)
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == "OK PONG\r\n.\r\nOK PONG\r\n.\r\n")
        _ = try? channel.finish()
    }

    @Test func onShutdownACommandInFlightIsAnsweredALateOneIsRefusedThenTheConnectionCloses() throws {
        let (channel, store) = try channel()
        try send(channel, "PING")
        channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        #expect(channel.isActive, "PING is still in flight")
        try send(channel, "GET late")
        #expect(store.pending.count == 1, "a line read while shutting down is not run")
        pong(store, 0)
        channel.embeddedEventLoop.run()
        #expect(try written(channel) == "OK PONG\r\n.\r\nERR SHUTTING_DOWN the gateway is shutting down; retry once it is back\r\n.\r\n")
        #expect(!channel.isActive)
    }

    @Test func onShutdownAnIdleConnectionClosesWithoutAReply() throws {
        let (channel, _) = try channel()
        channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(try written(channel) == "")
    }

    /// The gateway's own front: slow-input guard, line decoder, then the handler.
    private func pipeline(maximumInFlight: Int, lineTimeout: TimeAmount) throws -> (EmbeddedChannel, HeldStore) {
        let channel = EmbeddedChannel()
        let store = HeldStore(loop: channel.eventLoop)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(SlowInputGuard(timeout: lineTimeout, boundaries: LineBoundaries()))
        try sync.addHandler(ByteToMessageHandler(BoundedLineDecoder(maximumLineLength: 1024)))
        try sync.addHandler(GatewayConnectionHandler(session: GatewaySession(writeToken: nil), maximumInFlight: maximumInFlight,
                                                     logger: TestSupport.logger, figures: { [] }, store: store))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.read()
        return (channel, store)
    }

    /// One socket read of `text`, then the server asks for more, as the event loop does.
    private func receive(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
        channel.pipeline.fireChannelReadComplete()
        channel.read()
    }

    @Test func aClientTricklingALineIsClosedAtTheLineTimeout() throws {
        let (channel, store) = try pipeline(maximumInFlight: 8, lineTimeout: .seconds(2))
        try receive(channel, "PI")
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try receive(channel, "N")
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_100))
        #expect(!channel.isActive, "the line was started 2.1 s ago and is still unfinished")
        #expect(store.pending.isEmpty)
    }

    @Test func timeTheGatewayHoldsReadsForEarlierCommandsIsNotCountedAgainstTheClient() throws {
        let (channel, store) = try pipeline(maximumInFlight: 1, lineTimeout: .seconds(2))
        // The second PING waits for room, so reads stop with the third line half-sent.
        try receive(channel, "PING\nPING\nPI")
        #expect(store.pending.count == 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive, "the rest of the line is unread because of the gateway")
        pong(store, 0)
        channel.embeddedEventLoop.run()
        #expect(store.pending.count == 2, "the queued PING runs; reads stay held while it is in flight")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        pong(store, 1)
        channel.embeddedEventLoop.run()
        // Reading again: the client now has the whole timeout to finish its line, and no more.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
        #expect(try written(channel) == "OK PONG\r\n.\r\nOK PONG\r\n.\r\n")
    }

    @Test func quitClosesAfterItsReplyAndLaterLinesAreNotRun() throws {
        let (channel, store) = try channel()
        try send(channel, "QUIT", "PING")
        channel.embeddedEventLoop.run()
        #expect(store.pending.isEmpty)
        #expect(try written(channel) == "OK bye\r\n.\r\n")
        #expect(!channel.isActive)
    }
}
