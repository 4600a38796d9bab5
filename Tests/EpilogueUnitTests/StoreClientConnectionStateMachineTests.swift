import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import NIOCore
import Testing
@testable import EpilogueStoreClient

/// `StoreClientConnectionStateMachine` without a channel: what each event asks the handler to do.
/// Requests are plain strings here (the handler keeps promises and timers in their place).
@Suite struct StoreClientConnectionStateMachineTests {
    typealias Machine = StoreClientConnectionStateMachine<String>

    private static let nonce = Array(repeating: UInt8(7), count: 32)

    private func frame(_ message: ServerMessage, id: UInt32 = 0, more: Bool = false) -> Frame {
        message.frame(requestID: id, flags: more ? .streamContinues : [])
    }

    /// A machine past its handshake with a store that needs no secret.
    private func ready() -> Machine {
        var machine = Machine(secret: nil, clientName: "t", dictionaries: [1])
        _ = machine.connected()
        _ = machine.frameReceived(frame(.challenge(Challenge(version: 1, nonce: Self.nonce, authRequired: false, serverName: "s"))))
        _ = machine.frameReceived(frame(.ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, 1000]))))
        return machine
    }

    /// Sends `message` as request `name`; returns the request id it went out with.
    private func send(_ machine: inout Machine, _ name: String, _ message: ClientMessage = .stats, forwardsStream: Bool = false) throws -> UInt32 {
        guard case .sendRequest(let sent, let id, _) = machine.send(message, request: name, forwardsStream: forwardsStream) else {
            Issue.record("\(name) was not sent")
            throw Unsent()
        }
        #expect(sent == message)
        return id
    }

    struct Unsent: Error {}

    @Test func handshakeAnnouncesDictionariesProvesTheSecretAndEndsReadyWithWhatReadySaid() {
        var machine = Machine(secret: "s3cret", clientName: "gw", dictionaries: [1, 1000])
        guard case .sendHandshake(.hello(let hello)) = machine.connected() else { Issue.record("no HELLO on connect"); return }
        #expect(hello == Hello(versions: [WireProtocol.version], clientName: "gw", dictionaries: [1, 1000]))
        guard case .none = machine.connected() else { Issue.record("a second connect sent another HELLO"); return }
        let challenge = machine.frameReceived(frame(.challenge(Challenge(version: 1, nonce: Self.nonce, authRequired: true, serverName: "s"))))
        guard case .sendHandshake(.authenticate(let proof)) = challenge else { Issue.record("no AUTHENTICATE after CHALLENGE"); return }
        #expect(proof == SharedSecretAuth.proof(secret: "s3cret", nonce: Self.nonce))
        #expect(!machine.isReady)
        guard case .handshakeCompleted(let ready) = machine.frameReceived(frame(.ready(Ready(maximumFrameSize: 4096, dictionaries: [1, 1000])))) else {
            Issue.record("READY did not complete the handshake"); return
        }
        #expect(ready.dictionaries == [1, 1000])
        #expect(machine.isReady && machine.ready?.maximumFrameSize == 4096)
    }

    @Test func aStoreThatNeedsNoSecretGetsAnEmptyProofEvenFromAClientWithOne() {
        var machine = Machine(secret: "s3cret", clientName: "gw", dictionaries: [])
        _ = machine.connected()
        guard case .sendHandshake(.authenticate(proof: [])) = machine.frameReceived(
            frame(.challenge(Challenge(version: 1, nonce: Self.nonce, authRequired: false, serverName: "s")))) else {
            Issue.record("expected an empty proof"); return
        }
    }

    @Test(arguments: [
        (ServerMessage.error(code: .unauthorized, message: "authentication proof is wrong"),
         "store refused the handshake: UNAUTHORIZED: authentication proof is wrong (the gateway's --store-secret must equal the store's --auth-secret)"),
        (ServerMessage.versionUnsupported(serverVersions: [2], message: "no"),
         "store refused the handshake: VERSION_UNSUPPORTED: no (the store speaks [2])"),
        (ServerMessage.pong(ByteBuffer()), "unexpected pong during handshake"),
    ])
    func aRefusedHandshakeFailsReadinessAndClosesSayingWhy(_ answer: ServerMessage, _ why: String) {
        var machine = Machine(secret: nil, clientName: "t", dictionaries: [])
        _ = machine.connected()
        guard case .close(let closing) = machine.frameReceived(frame(answer)) else { Issue.record("the connection was kept"); return }
        #expect(closing.handshakeFailed)
        #expect(closing.error == .unavailable(why))
        #expect(closing.requests.isEmpty)
        guard case .none = machine.frameReceived(frame(.ready(Ready(maximumFrameSize: 1)))) else { Issue.record("a closed connection acted"); return }
    }

    @Test func aRequestBeforeTheHandshakeIsDoneFailsAndLeavesTheConnectionAsItIs() {
        var machine = Machine(secret: nil, clientName: "t", dictionaries: [])
        _ = machine.connected()
        guard case .fail("early", .unavailable("connection is not ready")) = machine.send(.stats, request: "early") else {
            Issue.record("a request was sent before READY"); return
        }
        #expect(machine.inFlight == 0)
        guard case .sendHandshake(.authenticate) = machine.frameReceived(
            frame(.challenge(Challenge(version: 1, nonce: Self.nonce, authRequired: false, serverName: "s")))) else {
            Issue.record("the handshake did not go on"); return
        }
    }

    @Test func requestsGetDistinctNonZeroIdsAndAnswersAreMatchedByIdInAnyOrder() throws {
        var machine = ready()
        let a = try send(&machine, "a", .get(id: "a"))
        let b = try send(&machine, "b", .query(RecordFilter(), limit: 10, offset: 0))
        let c = try send(&machine, "c", .get(id: "c"))
        #expect(Set([a, b, c]).count == 3 && ![a, b, c].contains(0))
        #expect(machine.inFlight == 3)
        guard case .none = machine.frameReceived(frame(.resultEnd(returned: 0, total: 0), id: b, more: true)) else {
            Issue.record("a continuing frame completed its request"); return
        }
        guard case .succeed("c", [.pong(ByteBuffer(string: "c"))]) = machine.frameReceived(frame(.pong(ByteBuffer(string: "c")), id: c)) else {
            Issue.record("c's answer went astray"); return
        }
        guard case .succeed("b", let frames) = machine.frameReceived(frame(.resultEnd(returned: 1, total: 9), id: b)) else {
            Issue.record("b's stream did not end"); return
        }
        #expect(frames == [.resultEnd(returned: 0, total: 0), .resultEnd(returned: 1, total: 9)])
        guard case .none = machine.frameReceived(frame(.pong(ByteBuffer()), id: 4242)) else {
            Issue.record("an answer to an id never sent was delivered"); return
        }
        guard case .succeed("a", _) = machine.frameReceived(frame(.pong(ByteBuffer()), id: a)) else { Issue.record("a's answer went astray"); return }
        #expect(machine.inFlight == 0)
    }

    @Test func aForwardingRequestHandsOnEachContinuingFrameAndKeepsOnlyTheLast() throws {
        var machine = ready()
        let id = try send(&machine, "backup", .backup, forwardsStream: true)
        let chunk = ServerMessage.backupChunk(file: "records.log", offset: 0, data: ByteBuffer(string: "x"))
        guard case .forward(chunk, to: "backup") = machine.frameReceived(frame(chunk, id: id, more: true)) else {
            Issue.record("the chunk was not forwarded"); return
        }
        guard case .succeed("backup", [.backupEnd([])]) = machine.frameReceived(frame(.backupEnd([]), id: id)) else {
            Issue.record("the stream's end was not the answer"); return
        }
    }

    @Test func aTimeoutFailsThatRequestAsTimedOutTheOthersAsUnavailableAndClosesSoLateAnswersReachNoOne() throws {
        var machine = ready()
        let slow = try send(&machine, "slow")
        let other = try send(&machine, "other")
        guard case .close(let closing) = machine.requestTimedOut(requestID: slow, milliseconds: 100) else {
            Issue.record("a timeout kept the connection"); return
        }
        #expect(!closing.handshakeFailed)
        #expect(closing.requests.map(\.0) == ["slow", "other"])
        #expect(closing.requests.map(\.1) == [.timeout(milliseconds: 100), .unavailable("store stopped answering on this connection")])
        guard case .none = machine.frameReceived(frame(.pong(ByteBuffer()), id: other)) else { Issue.record("a late answer was delivered"); return }
        guard case .none = machine.requestTimedOut(requestID: other, milliseconds: 100) else { Issue.record("a second close"); return }
    }

    @Test func aTimeoutOfARequestAlreadyAnsweredDoesNothing() throws {
        var machine = ready()
        let id = try send(&machine, "quick")
        _ = machine.frameReceived(frame(.pong(ByteBuffer()), id: id))
        guard case .none = machine.requestTimedOut(requestID: id, milliseconds: 5) else { Issue.record("an answered request timed out"); return }
        #expect(machine.isReady)
    }

    @Test func losingTheConnectionFailsEveryPendingRequestOnceInTheOrderTheyWereSent() throws {
        var machine = ready()
        for name in ["a", "b", "c"] { _ = try send(&machine, name) }
        guard case .close(let closing) = machine.connectionClosed() else { Issue.record("no close"); return }
        #expect(closing.requests.map(\.0) == ["a", "b", "c"])
        #expect(closing.requests.allSatisfy { $0.1 == .unavailable("connection to the store closed") })
        guard case .none = machine.connectionClosed() else { Issue.record("requests failed twice"); return }
        guard case .fail("late", .unavailable) = machine.send(.stats, request: "late") else { Issue.record("sent on a closed connection"); return }
    }

    @Test func anUndecodableFrameIsAProtocolErrorThatEndsTheConnection() throws {
        var machine = ready()
        _ = try send(&machine, "a")
        let garbage = Frame(type: 0xEE, flags: [], requestID: 1, payload: ByteBuffer())
        guard case .close(let closing) = machine.frameReceived(garbage) else { Issue.record("garbage was accepted"); return }
        guard case .protocolError = closing.error else { Issue.record("\(closing.error)"); return }
        #expect(closing.requests.map(\.0) == ["a"])
    }

    @Test func anErrorCaughtDuringTheHandshakeFailsReadiness() {
        var machine = Machine(secret: nil, clientName: "t", dictionaries: [])
        _ = machine.connected()
        struct Reset: Error, CustomStringConvertible { var description: String { "connection reset" } }
        guard case .close(let closing) = machine.errorCaught(Reset()) else { Issue.record("no close"); return }
        #expect(closing.handshakeFailed && closing.error == .unavailable("connection reset"))
    }

    /// PROTOCOL.md "Tracking": INVALIDATE comes with request id 0, answers nothing, and must not
    /// disturb a request in flight.
    @Test func anInvalidatePushIsHandedOnWithoutTouchingPendingRequests() throws {
        var machine = ready()
        let id = try send(&machine, "get", .get(id: "x"))
        guard case .invalidate(let ids) = machine.frameReceived(frame(.invalidate(ids: ["x", "y"]))) else {
            Issue.record("the push was not handed on")
            return
        }
        #expect(ids == ["x", "y"])
        #expect(machine.inFlight == 1)
        guard case .succeed(let request, _) = machine.frameReceived(frame(.pong(.init()), id: id)) else {
            Issue.record("the pending request lost its answer")
            return
        }
        #expect(request == "get")
    }
}
