import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// `StoreConnectionStateMachine` past the handshake: what it tracks in flight, when reads wait,
/// and how draining refuses, then closes. No channel (StoreDrainingTests and
/// StoreReadBackpressureTests run the same rules through the handler).
@Suite struct StoreConnectionLifecycleTests {
    private let put = ClientMessage.put(id: "x", content: TestSupport.content(), expectedVersion: nil)

    private func readyMachine(maximumInFlightWrites: Int = 256) -> StoreConnectionStateMachine {
        var machine = StoreConnectionStateMachine(secret: nil, maximumInFlightWrites: maximumInFlightWrites)
        _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        _ = machine.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0))
        return machine
    }

    /// `answered`, outside `#expect` (which cannot call a mutating method).
    private func answer(_ machine: inout StoreConnectionStateMachine, _ requestID: UInt32) -> Bool {
        machine.answered(requestID: requestID)
    }

    @Test func aRequestArrivingWhileDrainingIsRefusedAndTheConnectionClosesWhenTheLastWriteIsAnswered() {
        var machine = readyMachine()
        #expect(machine.frameReceived(put.frame(requestID: 1)) == .serve(put, requestID: 1))
        #expect(machine.drain() == false, "a write is in flight")
        guard case .refuse(.ping(_), .error(.shuttingDown, let message), 2) = machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 2)) else {
            Issue.record("expected a SHUTTING_DOWN refusal"); return
        }
        #expect(message.contains("shutting down"))
        #expect(answer(&machine, 1) == true, "the last answer out: close")
        #expect(machine.isClosed)
        #expect(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 3)) == .ignore)
    }

    /// A SEARCH runs on the search pool and is answered later, like a write: its id stays taken
    /// until then, and a draining connection stays open for its answer.
    @Test func aSearchIsInFlightUntilAnsweredItsIdTakenAndDrainingWaitsForIt() {
        var machine = readyMachine()
        let search = ClientMessage.search(text: "dream", RecordFilter(), limit: 10, offset: 0, fuzzy: false)
        #expect(machine.frameReceived(search.frame(requestID: 1)) == .serve(search, requestID: 1))
        guard case .sendAndClose(.error(.protocolViolation, let message), 1) = readyMachineReusing(search) else {
            Issue.record("expected a protocol violation for a reused SEARCH id"); return
        }
        #expect(message.contains("already in flight"))
        #expect(machine.drain() == false, "a SEARCH is in flight")
        #expect(answer(&machine, 1) == true, "its answer out: close")
    }

    /// A second request with the id of a SEARCH in flight, on a machine of its own.
    private func readyMachineReusing(_ search: ClientMessage) -> StoreConnectionStateMachine.Action {
        var machine = readyMachine()
        _ = machine.frameReceived(search.frame(requestID: 1))
        return machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 1))
    }

    @Test func drainingWithNothingInFlightClosesAtOnce() {
        var machine = readyMachine()
        #expect(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 1)) == .serve(.get(id: "x"), requestID: 1))
        #expect(machine.drain() == true, "reads are answered inline: nothing is in flight")
    }

    @Test func readsWaitAtTheInFlightWriteLimitAndTheHeldReadIsIssuedWhenOneIsAnswered() {
        var machine = readyMachine(maximumInFlightWrites: 2)
        _ = machine.frameReceived(put.frame(requestID: 1))
        #expect(machine.readRequested(writable: true) == true)
        _ = machine.frameReceived(put.frame(requestID: 2))
        #expect(machine.readRequested(writable: true) == false)
        #expect(machine.releasesRead(writable: true) == false)
        #expect(answer(&machine, 1) == false)
        #expect(machine.releasesRead(writable: true) == true)
        #expect(machine.releasesRead(writable: true) == false, "issued once")
    }

    @Test func readsWaitWhileAStreamIsSentOrThePeerIsNotReading() {
        var machine = readyMachine()
        #expect(machine.readRequested(writable: false) == false)
        #expect(machine.releasesRead(writable: true) == true)
        let export = ClientMessage.export(RecordFilter())
        #expect(machine.frameReceived(export.frame(requestID: 4)) == .serve(export, requestID: 4))
        #expect(machine.readRequested(writable: true) == false, "one stream at a time")
        #expect(answer(&machine, 4) == false)
        #expect(machine.releasesRead(writable: true) == true)
    }
}
