import EpilogueProtocol
import EpilogueServerKit
import EpilogueTestSupport
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
