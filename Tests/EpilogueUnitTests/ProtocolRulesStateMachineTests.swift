import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// The rules of docs/PROTOCOL.md that issue 16 settled, one test each: request ids, unknown
/// message types, proof lengths, handshake order, strings, which error wins, monotonic versions,
/// dictionary fetch and announcement.
@Suite struct ProtocolRulesStateMachineTests {
    private let nonce = [UInt8](repeating: 7, count: 32)

    private func readyMachine(secret: String? = nil, dictionaries: [UInt32] = []) -> StoreConnectionStateMachine {
        var machine = StoreConnectionStateMachine(secret: secret, makeNonce: { [nonce] in nonce },
                                                  availableDictionaries: { dictionaries })
        _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        _ = machine.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0))
        return machine
    }

    private func isFatal(_ action: StoreConnectionStateMachine.Action, _ code: ErrorCode, requestID: UInt32) -> Bool {
        guard case .sendAndClose(let message, let id) = action else { return false }
        return message.errorCode == code && id == requestID
    }

    @Test func requestIDZeroAfterReadyIsAProtocolViolation() {
        var machine = readyMachine()
        #expect(isFatal(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 0)), .protocolViolation, requestID: 0))
        #expect(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 1)) == .ignore)
    }

    @Test func handshakeFramesMustUseRequestIDZero() {
        var hello = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(hello.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 5)), .protocolViolation, requestID: 5))
        var auth = StoreConnectionStateMachine(secret: nil)
        _ = auth.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        #expect(isFatal(auth.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 6)), .protocolViolation, requestID: 6))
    }

    @Test func reusingTheIDOfAWriteInFlightIsAProtocolViolationAndFreeOnceAnswered() {
        let put = ClientMessage.put(id: "x", content: TestSupport.content(), expectedVersion: nil)
        var machine = readyMachine()
        #expect(machine.frameReceived(put.frame(requestID: 7)) == .serve(put, requestID: 7))
        // Reads are answered inline, so their ids are free again at once.
        #expect(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 8)) == .serve(.get(id: "x"), requestID: 8))
        #expect(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 8)) == .serve(.get(id: "x"), requestID: 8))
        machine.answered(requestID: 7)
        #expect(machine.frameReceived(put.frame(requestID: 7)) == .serve(put, requestID: 7))
        #expect(isFatal(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 7)), .protocolViolation, requestID: 7))
        // Also when the duplicate is of a type the store does not know.
        var unknown = readyMachine()
        _ = unknown.frameReceived(put.frame(requestID: 9))
        #expect(isFatal(unknown.frameReceived(Frame(type: 0x7E, requestID: 9, payload: ByteBuffer())), .protocolViolation, requestID: 9))
    }

    @Test func unknownRequestTypeAfterReadyIsRefusedWithUnknownMessageAndTheConnectionGoesOn() {
        var machine = readyMachine()
        let action = machine.frameReceived(Frame(type: 0x7E, requestID: 3, payload: ByteBuffer(bytes: [1, 2, 3])))
        guard case .send(.error(.unknownMessage, _), 3) = action else { Issue.record("got \(action)"); return }
        #expect(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 4)) == .serve(.ping(ByteBuffer()), requestID: 4))
    }

    @Test func unknownTypeBeforeReadyOrInTheResponseRangeIsAProtocolViolation() {
        var before = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(before.frameReceived(Frame(type: 0x7E, requestID: 0, payload: ByteBuffer())), .protocolViolation, requestID: 0))
        var after = readyMachine()
        #expect(isFatal(after.frameReceived(Frame(type: 0xEE, requestID: 3, payload: ByteBuffer())), .protocolViolation, requestID: 3))
    }

    @Test(arguments: [1, 16, 31, 33, 64])
    func proofOfAnotherLengthThanZeroOr32IsAProtocolViolationWithOrWithoutASecret(_ length: Int) {
        for secret in [nil, "s3cret"] as [String?] {
            var machine = StoreConnectionStateMachine(secret: secret)
            _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
            let proof = ClientMessage.authenticate(proof: [UInt8](repeating: 1, count: length)).frame(requestID: 0)
            #expect(isFatal(machine.frameReceived(proof), .protocolViolation, requestID: 0), "secret \(secret ?? "none")")
        }
    }

    @Test func secondHelloOrAuthenticateAfterReadyIsAProtocolViolation() {
        var hello = readyMachine()
        #expect(isFatal(hello.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0)), .protocolViolation, requestID: 0))
        var auth = readyMachine()
        #expect(isFatal(auth.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0)), .protocolViolation, requestID: 0))
    }

    @Test func helloWithABadMagicIsAProtocolViolation() {
        var payload = ByteBuffer()
        ClientMessage.hello(Hello(clientName: "t")).encodePayload(into: &payload)
        payload.setInteger(UInt32(0x4550_494D), at: payload.readerIndex)
        var machine = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(machine.frameReceived(Frame(type: MessageType.hello.rawValue, requestID: 0, payload: payload)),
                        .protocolViolation, requestID: 0))
    }

    @Test func fatalErrorCarriesTheFrameRequestIDOnceTheHeaderWasReadElseZero() {
        var flags = readyMachine()
        #expect(isFatal(flags.framingFailed(FrameDecodingError(requestID: 9, reason: .unknownFlags(0x40))), .protocolViolation, requestID: 9))
        var trace = readyMachine()
        #expect(isFatal(trace.framingFailed(FrameDecodingError(requestID: 10, reason: .truncated("trace id"))), .protocolViolation, requestID: 10))
        var large = readyMachine()
        #expect(isFatal(large.framingFailed(ProtocolError.frameTooLarge(declared: 1 << 21, maximum: 1 << 20)), .tooLarge, requestID: 0))
        var short = readyMachine()
        #expect(isFatal(short.framingFailed(ProtocolError.frameTooShort(declared: 2)), .protocolViolation, requestID: 0))
        // STREAM_CONTINUES on a request: a decoding error of a frame whose id is known.
        var stream = readyMachine()
        let frame = Frame(type: MessageType.ping.rawValue, flags: .streamContinues, requestID: 11, payload: ByteBuffer(bytes: [0, 0, 0, 0]))
        #expect(isFatal(stream.frameReceived(frame), .protocolViolation, requestID: 11))
    }

    @Test func readyAnnouncesTheDictionariesTheServerCanHandOut() {
        var machine = StoreConnectionStateMachine(secret: nil, availableDictionaries: { [1, 1000] })
        _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        #expect(machine.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0)) ==
            .send(.ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, 1000])), requestID: 0))
    }
}
