import EpilogueProtocol
import EpilogueServerKit
import NIOCore
import NIOEmbedded
import Testing
@testable import EpilogueGateway

/// `GatewayConnectionStateMachine` alone: reply order, flow control, QUIT, half-close and
/// shutdown, without a channel.
@Suite struct GatewayConnectionStateMachineTests {
    private static func line(_ text: String) -> LineEvent { .line(ByteBuffer(string: text)) }

    /// `replyArrived`, outside `#expect` (which cannot call a mutating method).
    private func arrive(_ machine: inout GatewayConnectionStateMachine, sequence: Int, _ reply: TextResponse) -> Bool {
        machine.replyArrived(sequence: sequence, reply)
    }

    /// Every action until the machine waits, running lines as the handler would (`run` decides
    /// what a run line does).
    private static func drainActions(_ machine: inout GatewayConnectionStateMachine, writable: Bool = true,
                                     run: (LineEvent, inout GatewayConnectionStateMachine) -> Void = { _, _ in }) -> [GatewayConnectionStateMachine.Action] {
        var actions: [GatewayConnectionStateMachine.Action] = []
        while true {
            let action = machine.nextAction(writable: writable)
            if action == .wait { return actions }
            actions.append(action)
            if case .run(let line) = action { run(line, &machine) }
            if action == .read || action == .close { return actions }
            if case .writeAndClose = action { return actions }
        }
    }

    @Test func repliesLeaveInCommandOrderWhateverOrderTheStoreAnswersIn() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        var sequences: [Int] = []
        for name in ["A", "B", "C"] {
            #expect(machine.lineRead(Self.line(name)) == .run(Self.line(name)))
            sequences.append(machine.awaitingReply())
        }
        // C, then B answer first: nothing can go out before A.
        #expect(arrive(&machine, sequence: sequences[2], .ok("C")) == false)
        #expect(arrive(&machine, sequence: sequences[1], .ok("B")) == false)
        #expect(Self.drainActions(&machine) == [])
        #expect(arrive(&machine, sequence: sequences[0], .ok("A")) == true)
        #expect(Self.drainActions(&machine) == [.write(.ok("A")), .write(.ok("B")), .write(.ok("C"))])
    }

    @Test func aReplyGivenAtOnceWaitsBehindAnEarlierStoreRequest() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        _ = machine.lineRead(Self.line("GET x"))
        let get = machine.awaitingReply()
        _ = machine.lineRead(Self.line("HELP"))
        machine.replied(.ok("help"))
        #expect(Self.drainActions(&machine) == [])
        #expect(arrive(&machine, sequence: get, .error(code: .notFound, message: "no x")) == true)
        #expect(Self.drainActions(&machine) == [.write(.error(code: .notFound, message: "no x")), .write(.ok("help"))])
    }

    @Test func atTheInFlightLimitLinesQueueAndReadsAreHeldUntilTheHeadIsAnswered() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 2)
        _ = machine.lineRead(Self.line("1"))
        let first = machine.awaitingReply()
        _ = machine.lineRead(Self.line("2"))
        _ = machine.awaitingReply()
        // The same socket read held two more lines: they wait, in order, and reads stop.
        #expect(machine.lineRead(Self.line("3")) == .wait)
        #expect(machine.lineRead(Self.line("4")) == .wait)
        #expect(machine.readRequested(writable: true) == false)
        #expect(Self.drainActions(&machine) == [])

        #expect(arrive(&machine, sequence: first, .ok("1")) == true)
        var ran: [LineEvent] = []
        let actions = Self.drainActions(&machine) { line, machine in
            ran.append(line)
            _ = machine.awaitingReply()
        }
        // One place freed: line 3 runs; line 4 still waits, so the read stays held.
        #expect(actions == [.write(.ok("1")), .run(Self.line("3"))])
        #expect(ran == [Self.line("3")])
        #expect(machine.readRequested(writable: true) == false)
    }

    @Test func aHeldReadIsIssuedOnceThePeerReadsItsRepliesAgain() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        #expect(machine.readRequested(writable: true) == true)
        #expect(machine.readRequested(writable: false) == false)
        #expect(machine.nextAction(writable: false) == .wait)
        #expect(machine.nextAction(writable: true) == .read)
        #expect(machine.nextAction(writable: true) == .wait, "the held read is issued once")
    }

    @Test func quitIsAnsweredThenTheConnectionClosesAndNothingAfterItRuns() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 1)
        _ = machine.lineRead(Self.line("PING"))
        let ping = machine.awaitingReply()
        #expect(machine.lineRead(Self.line("QUIT")) == .wait, "queued behind PING at the limit")
        #expect(machine.lineRead(Self.line("GET after")) == .wait)
        #expect(arrive(&machine, sequence: ping, .ok("PONG")) == true)
        let actions = Self.drainActions(&machine) { line, machine in
            #expect(line == Self.line("QUIT"), "only QUIT runs")
            machine.replied(.ok("bye"), closesConnection: true)
        }
        #expect(actions == [.write(.ok("PONG")), .run(Self.line("QUIT")), .writeAndClose(.ok("bye"))])
        #expect(machine.isClosed)
        #expect(machine.lineRead(Self.line("PING")) == .wait)
    }

    @Test func shutdownAnswersWhatWasReadRefusesLaterLinesInOrderThenCloses() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        _ = machine.lineRead(Self.line("PING"))
        let ping = machine.awaitingReply()
        machine.drain(because: .shutdown)
        #expect(Self.drainActions(&machine) == [], "PING is still in flight")
        // Reads go on while PING is in flight, so a late line is told, not silently dropped.
        #expect(machine.readRequested(writable: true) == true)
        #expect(machine.lineRead(Self.line("GET late")) == .wait)
        #expect(arrive(&machine, sequence: ping, .ok("PONG")) == true)
        #expect(Self.drainActions(&machine) == [.write(.ok("PONG")), .write(GatewayConnectionStateMachine.shuttingDown), .close])
        #expect(GatewayConnectionStateMachine.shuttingDown.errorCode == .shuttingDown)
    }

    @Test func shutdownOfAnIdleConnectionClosesAtOnceWithoutAnUnaskedReply() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        machine.drain(because: .shutdown)
        #expect(Self.drainActions(&machine) == [.close])
    }

    @Test func linesQueuedBeforeAShutdownAreStillRunButLaterOnesAreRefused() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 1)
        _ = machine.lineRead(Self.line("1"))
        let first = machine.awaitingReply()
        _ = machine.lineRead(Self.line("2 (read before the shutdown)"))
        machine.drain(because: .shutdown)
        _ = machine.lineRead(Self.line("3 (read after)"))
        #expect(arrive(&machine, sequence: first, .ok("1")) == true)
        var second: Int?
        var actions = Self.drainActions(&machine) { _, machine in second = machine.awaitingReply() }
        #expect(actions == [.write(.ok("1")), .run(Self.line("2 (read before the shutdown)"))])
        #expect(arrive(&machine, sequence: second ?? -1, .ok("2")) == true)
        actions = Self.drainActions(&machine)
        #expect(actions == [.write(.ok("2")), .write(GatewayConnectionStateMachine.shuttingDown), .close])
    }

    @Test func afterAHalfCloseEverythingSentIsAnsweredThenTheConnectionCloses() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 1)
        _ = machine.lineRead(Self.line("1"))
        let first = machine.awaitingReply()
        _ = machine.lineRead(Self.line("2"))
        machine.drain(because: .inputClosed)
        #expect(machine.readRequested(writable: true) == false, "nothing more to read after a half-close")
        #expect(arrive(&machine, sequence: first, .ok("1")) == true)
        let actions = Self.drainActions(&machine) { _, machine in machine.replied(.ok("2")) }
        #expect(actions == [.write(.ok("1")), .run(Self.line("2")), .write(.ok("2")), .close])
    }

    @Test func repliesArrivingAfterThePeerWentAwayAreDropped() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        _ = machine.lineRead(Self.line("PING"))
        let ping = machine.awaitingReply()
        machine.channelClosed()
        #expect(arrive(&machine, sequence: ping, .ok("PONG")) == false)
        #expect(machine.nextAction(writable: true) == .wait)
    }
}

/// `GatewayConnectionHandler` on an EmbeddedChannel, with store answers the test gives by hand:
/// what the machine decides reaches the wire, in order, and shutdown closes the channel.
@Suite struct GatewayConnectionHandlerTests {
    /// Store requests the handler sent, each answered when the test says.
    final class HeldStore {
        var pending: [(message: ClientMessage, promise: EventLoopPromise<[ServerMessage]>)] = []
        let loop: any EventLoop
        init(loop: any EventLoop) { self.loop = loop }
        func send(_ message: ClientMessage, _ traceID: UInt64) -> EventLoopFuture<[ServerMessage]> {
            let promise = loop.makePromise(of: [ServerMessage].self)
            pending.append((message, promise))
            return promise.futureResult
        }
    }

    private func channel(maximumInFlight: Int = 128) throws -> (EmbeddedChannel, HeldStore) {
        let channel = EmbeddedChannel()
        let store = HeldStore(loop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(GatewayConnectionHandler(
            session: GatewaySession(writeToken: nil), maximumInFlight: maximumInFlight, logger: TestSupport.logger,
            figures: { [] }, send: store.send))
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
                                                     logger: TestSupport.logger, figures: { [] }, send: store.send))
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
