import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct StoreConnectionStateMachineTests {
    private func frame(_ message: ClientMessage, id: UInt32 = 0) -> Frame { message.frame(requestID: id) }
    private let nonce = [UInt8](repeating: 7, count: 32)

    @Test func handshakeWithoutSecretReachesReady() {
        var machine = StoreConnectionStateMachine(secret: nil, makeNonce: { [nonce] in nonce })
        #expect(machine.frameReceived(frame(.hello(Hello(clientName: "t", dictionaries: [1])))) ==
            .send(.challenge(Challenge(version: 1, nonce: nonce, authRequired: false, serverName: "epilogue-store")), requestID: 0))
        #expect(machine.frameReceived(frame(.authenticate(proof: []))) == .send(.ready(Ready(maximumFrameSize: 1 << 20)), requestID: 0))
        #expect(machine.clientDictionaries == [1])
        #expect(machine.frameReceived(frame(.get(id: "x"), id: 5)) == .serve(.get(id: "x"), requestID: 5))
    }

    @Test func requestBeforeHandshakeIsAProtocolViolation() {
        var machine = StoreConnectionStateMachine(secret: nil)
        guard case .sendAndClose(.error(.protocolViolation, _), _) = machine.frameReceived(frame(.get(id: "x"), id: 1)) else {
            Issue.record("expected a protocol violation"); return
        }
        #expect(machine.frameReceived(frame(.ping(ByteBuffer()), id: 2)) == .ignore)
    }

    @Test func unsupportedVersionGetsAClearErrorListingTheServersVersionsAsData() {
        var machine = StoreConnectionStateMachine(secret: nil)
        let action = machine.frameReceived(frame(.hello(Hello(versions: [2, 3], clientName: "future"))))
        guard case .sendAndClose(.versionUnsupported(let versions, let message), 0) = action else {
            Issue.record("expected VERSION_UNSUPPORTED, got \(action)"); return
        }
        #expect(versions == [1])
        #expect(message.contains("[2, 3]"))
    }

    @Test func correctProofIsAcceptedAndWrongOrMissingProofIsRefused() {
        let secret = "s3cret"
        var good = StoreConnectionStateMachine(secret: secret, makeNonce: { [nonce] in nonce })
        _ = good.frameReceived(frame(.hello(Hello(clientName: "t"))))
        #expect(good.frameReceived(frame(.authenticate(proof: SharedSecretAuth.proof(secret: secret, nonce: nonce)))) ==
            .send(.ready(Ready(maximumFrameSize: 1 << 20)), requestID: 0))

        for proof in [[], SharedSecretAuth.proof(secret: "wrong", nonce: nonce), [UInt8](repeating: 0, count: 32)] {
            var bad = StoreConnectionStateMachine(secret: secret, makeNonce: { [nonce] in nonce })
            _ = bad.frameReceived(frame(.hello(Hello(clientName: "t"))))
            guard case .sendAndClose(.error(.unauthorized, _), _) = bad.frameReceived(frame(.authenticate(proof: proof))) else {
                Issue.record("proof \(proof) should be refused"); continue
            }
        }
    }

    @Test func replayedProofFromAnotherConnectionIsRefused() {
        let secret = "s3cret"
        var first = StoreConnectionStateMachine(secret: secret)
        guard case .send(.challenge(let c1), _) = first.frameReceived(frame(.hello(Hello(clientName: "t")))) else {
            Issue.record("HELLO with a secret configured must be answered with a CHALLENGE"); return
        }
        let recorded = SharedSecretAuth.proof(secret: secret, nonce: c1.nonce)
        var second = StoreConnectionStateMachine(secret: secret)
        _ = second.frameReceived(frame(.hello(Hello(clientName: "t"))))
        guard case .sendAndClose(.error(.unauthorized, _), _) = second.frameReceived(frame(.authenticate(proof: recorded))) else {
            Issue.record("a replayed proof must not authenticate"); return
        }
    }

    @Test func oversizedFrameIsTooLarge() {
        var machine = StoreConnectionStateMachine(secret: nil)
        guard case .sendAndClose(.error(.tooLarge, _), _) = machine.framingFailed(ProtocolError.frameTooLarge(declared: .max, maximum: 10)) else {
            Issue.record("expected TOO_LARGE"); return
        }
    }
}
