import EpilogueProtocol
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore
@testable import EpilogueStoreClient

/// The known-answer vector of docs/PROTOCOL.md §3, read from the document itself.
enum AuthenticationVector {
    static var documentText: String {
        get throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            return try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        }
    }

    /// (secret, nonce, proof) from the lines `secret …`, `nonce <hex>`, `proof <hex>` of the spec.
    static func fromSpec() throws -> (secret: String, nonce: [UInt8], proof: [UInt8]) {
        var fields: [String: String] = [:]
        for line in try documentText.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            for key in ["secret", "nonce", "proof"] where trimmed.hasPrefix(key + "  ") {
                fields[key] = trimmed.dropFirst(key.count).trimmingCharacters(in: .whitespaces)
            }
        }
        guard let secret = fields["secret"], let nonce = fields["nonce"].flatMap(hex), let proof = fields["proof"].flatMap(hex) else {
            throw Missing()
        }
        return (secret, nonce, proof)
    }

    static func hex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        return stride(from: 0, to: chars.count, by: 2).map { UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16) }
            .reduce(into: [UInt8]?([])) { out, byte in
                guard let byte else { out = nil; return }
                out?.append(byte)
            }
    }

    /// HMAC-SHA256 computed by python3's `hmac` module: an implementation that shares nothing with ours.
    static func pythonProof(secret: String, nonce: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import hmac, hashlib, sys
            print(hmac.new(sys.argv[1].encode(), b"epilogue-auth-v1" + bytes.fromhex(sys.argv[2]), hashlib.sha256).hexdigest())
            """, secret, nonce.map { String(format: "%02x", $0) }.joined()]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let proof = hex(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw Missing()
        }
        return proof
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "docs/PROTOCOL.md has no secret/nonce/proof vector, or python3 could not compute it" }
    }
}

@Suite struct AuthenticationVectorTests {
    @Test func specVectorIsWhatPythonHMACComputes() throws {
        let vector = try AuthenticationVector.fromSpec()
        #expect(vector.secret == "correct horse battery staple")
        #expect(vector.nonce == Array(0..<32))
        #expect(try AuthenticationVector.pythonProof(secret: vector.secret, nonce: vector.nonce) == vector.proof)
    }

    @Test func ourProofAndVerifyAgreeWithTheSpecVector() throws {
        let vector = try AuthenticationVector.fromSpec()
        #expect(SharedSecretAuth.proof(secret: vector.secret, nonce: vector.nonce) == vector.proof)
        #expect(SharedSecretAuth.verify(proof: vector.proof, secret: vector.secret, nonce: vector.nonce))
        var flipped = vector.proof
        flipped[31] ^= 1
        #expect(!SharedSecretAuth.verify(proof: flipped, secret: vector.secret, nonce: vector.nonce))
    }

    /// The store's handshake, with the spec's nonce: the spec's proof gets READY, any other UNAUTHORIZED.
    @Test func storeAcceptsTheSpecProofForTheSpecNonce() throws {
        let vector = try AuthenticationVector.fromSpec()
        func machineAfterHello() -> StoreConnectionStateMachine {
            var machine = StoreConnectionStateMachine(secret: vector.secret, makeNonce: { vector.nonce })
            _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
            return machine
        }
        var good = machineAfterHello()
        #expect(good.frameReceived(ClientMessage.authenticate(proof: vector.proof).frame(requestID: 0))
            == .send(.ready(Ready(maximumFrameSize: WireProtocol.defaultMaximumFrameSize)), requestID: 0))
        var bad = machineAfterHello()
        var flipped = vector.proof
        flipped[0] ^= 0x80
        guard case .sendAndClose(.error(.unauthorized, _), 0) = bad.frameReceived(ClientMessage.authenticate(proof: flipped).frame(requestID: 0)) else {
            Issue.record("a wrong proof was not refused with UNAUTHORIZED")
            return
        }
    }

    /// The gateway's client side: given the spec's nonce in CHALLENGE, it sends the spec's proof.
    @Test func storeClientSendsTheSpecProofForTheSpecNonce() throws {
        let vector = try AuthenticationVector.fromSpec()
        let channel = EmbeddedChannel()
        let handler = StoreClientHandler(secret: vector.secret, clientName: "t", readyPromise: channel.eventLoop.makePromise())
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let hello = try #require(try channel.readOutbound(as: Frame.self))
        guard case .hello = try ClientMessage(frame: hello) else { Issue.record("first frame is not HELLO"); return }
        try channel.writeInbound(ServerMessage.challenge(Challenge(version: 1, nonce: vector.nonce, authRequired: true, serverName: "s"))
            .frame(requestID: 0))
        let authenticate = try #require(try channel.readOutbound(as: Frame.self))
        #expect(try ClientMessage(frame: authenticate) == .authenticate(proof: vector.proof))
        #expect(authenticate.requestID == 0)
        _ = try? channel.finish()
    }

    /// With `auth_required` false the client sends an empty proof even when it has a secret.
    @Test func storeClientSendsAnEmptyProofWhenTheStoreRequiresNone() throws {
        let channel = EmbeddedChannel()
        let handler = StoreClientHandler(secret: "s3cret", clientName: "t", readyPromise: channel.eventLoop.makePromise())
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try channel.readOutbound(as: Frame.self)
        try channel.writeInbound(ServerMessage.challenge(Challenge(version: 1, nonce: Array(0..<32), authRequired: false, serverName: "s"))
            .frame(requestID: 0))
        let authenticate = try #require(try channel.readOutbound(as: Frame.self))
        #expect(try ClientMessage(frame: authenticate) == .authenticate(proof: []))
        _ = try? channel.finish()
    }
}
