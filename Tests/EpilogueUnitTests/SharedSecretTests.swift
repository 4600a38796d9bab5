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

@Suite struct SharedSecretTests {
    @Test func theSecretNeverAppearsInTheHandshakeBytes() {
        let secret = "correct horse battery staple"
        let nonce = SharedSecretAuth.makeNonce()
        var wire = ByteBuffer()
        ClientMessage.hello(Hello(clientName: "gateway")).frame(requestID: 0).write(to: &wire)
        ClientMessage.authenticate(proof: SharedSecretAuth.proof(secret: secret, nonce: nonce)).frame(requestID: 0).write(to: &wire)
        let bytes = Array(buffer: wire)
        let needle = Array(secret.utf8)
        let found = bytes.indices.contains { start in bytes[start...].starts(with: needle) }
        #expect(!found)
        #expect(SharedSecretAuth.proof(secret: secret, nonce: nonce).count == 32)
    }

    @Test func proofsDifferPerNonceAndPerSecret() {
        let a = SharedSecretAuth.makeNonce(), b = SharedSecretAuth.makeNonce()
        #expect(a != b)
        #expect(SharedSecretAuth.proof(secret: "s", nonce: a) != SharedSecretAuth.proof(secret: "s", nonce: b))
        #expect(SharedSecretAuth.proof(secret: "s", nonce: a) != SharedSecretAuth.proof(secret: "t", nonce: a))
        #expect(SharedSecretAuth.verify(proof: SharedSecretAuth.proof(secret: "s", nonce: a), secret: "s", nonce: a))
        #expect(!SharedSecretAuth.verify(proof: SharedSecretAuth.proof(secret: "s", nonce: a), secret: "s", nonce: b))
    }

    @Test func constantTimeEqualityAgreesWithEquality() {
        #expect(ConstantTime.equal(Array("token".utf8), Array("token".utf8)))
        #expect(!ConstantTime.equal(Array("token".utf8), Array("tokem".utf8)))
        #expect(!ConstantTime.equal(Array("token".utf8), Array("token2".utf8)))
        #expect(!ConstantTime.equal([], Array("x".utf8)))
        #expect(ConstantTime.equal([], []))
        #expect(!ConstantTime.equal([], [UInt8](repeating: 0, count: 256)))
    }
}
