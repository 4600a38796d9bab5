import EpilogueProtocol
import EpilogueServerKit
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
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

/// Log lines kept in memory, for tests that assert what a service logged.
final class CapturedLogs: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: String
        var line: String { "\(level) \(message) \(metadata)" }
    }

    private let box = NIOLockedValueBox<[Entry]>([])
    var entries: [Entry] { box.withLockedValue { $0 } }

    func logger(label: String = "epilogue.test.captured") -> Logger {
        var logger = Logger(label: label) { _ in Handler(logs: self) }
        logger.logLevel = .debug
        return logger
    }

    fileprivate func append(_ entry: Entry) { box.withLockedValue { $0.append(entry) } }

    struct Handler: LogHandler {
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let text = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            logs.append(Entry(level: event.level, message: "\(event.message)", metadata: text))
        }
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

/// A store with `--auth-secret` and a gateway in front of it, in-process, with the gateway's log captured.
private func withSecretStack<T: Sendable>(storeSecret: String, gatewaySecret: String?, logs: CapturedLogs,
                                          _ body: @Sendable (Int, GatewayServer) async throws -> T) async throws -> T {
    let dir = TestSupport.temporaryDirectory()
    defer { TestSupport.removeDirectory(dir) }
    return try await withStoreServer(directory: dir, secret: storeSecret) { storePort, _ in
        let logger = logs.logger(label: "epilogue.gateway")
        let pool = StorePool(configuration: .init(host: "127.0.0.1", port: storePort, secret: gatewaySecret, connections: 2,
                                                  requestTimeout: .seconds(5), initialBackoff: .milliseconds(20),
                                                  maximumBackoff: .milliseconds(200)),
                             logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = GatewayServer(configuration: .init(host: "127.0.0.1", port: 0), pool: pool, logger: logger,
                                   onListening: { continuation.yield($0.port ?? 0) })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await server.run(); return nil }
            var iterator = ports.makeAsyncIterator()
            let port = await iterator.next() ?? 0
            defer { group.cancelAll() }
            return try await body(port, server)
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct GatewayStoreSecretTests {
    @Test func gatewayWithTheStoresSecretIsServed() async throws {
        let logs = CapturedLogs()
        try await withSecretStack(storeSecret: "s3cret-shared", gatewaySecret: "s3cret-shared", logs: logs) { port, server in
            for _ in 0..<200 where !server.pool.isConnected { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.pool.isConnected, "the pool never completed an authenticated handshake: \(server.pool.lastError)")
            try await withTextClient(port: port) { c in
                #expect(try await c.command("PING").status == "OK PONG")
                let put = try await c.command(#"PUT auth/x film="La La Land" year=2016 director="Damien Chazelle" subject=epilogue reading="r" source=s sourceKind=critic"#)
                #expect(put.status == "OK auth/x version 1")
                #expect(try await c.command("GET auth/x").status == "OK auth/x")
            }
        }
        #expect(!logs.entries.contains { $0.message == "store connection failed" }, "\(logs.entries.map(\.line))")
    }

    @Test(arguments: [("a wrong secret", "not-the-secret" as String?, "authentication proof is wrong"),
                      ("no secret", nil, "this store requires the shared secret")])
    func gatewayWithoutTheStoresSecretAnswersStoreUnavailableAndLogsWhy(_ what: String, _ gatewaySecret: String?, _ storeSays: String) async throws {
        let logs = CapturedLogs()
        let entries = try await withSecretStack(storeSecret: "s3cret-shared", gatewaySecret: gatewaySecret, logs: logs) { port, server in
            // Let at least two handshakes be refused (two slots; the backoff is 20–200 ms), bounded by 10 s.
            let refusedTwice = { logs.entries.filter { $0.message == "store connection failed" && $0.metadata.contains("UNAUTHORIZED") }.count >= 2 }
            for _ in 0..<1_000 where !refusedTwice() { try await Task.sleep(for: .milliseconds(10)) }
            #expect(refusedTwice(), "\(what): \(logs.entries.map(\.line))")
            #expect(!server.pool.isConnected, "\(what)")
            try await withTextClient(port: port) { c in
                let reply = try await c.command("PING")
                #expect(reply.errorCode == "STORE_UNAVAILABLE", "\(what): \(reply)")
                #expect(reply.status.contains("UNAUTHORIZED"), "\(what): \(reply)")
            }
            // The log while the store is up: once the test ends the store stops, the gateway logs
            // that (another reason), and a refusal still in flight is then a new reason again.
            return logs.entries
        }
        let failures = entries.filter { $0.message == "store connection failed" && $0.metadata.contains("UNAUTHORIZED") }
        let loud = failures.filter { $0.level >= .error }
        // One clear line at error level naming the refusal and the flag to fix; repeats stay at debug.
        #expect(loud.count == 1, "\(what): \(failures.map(\.line))")
        let line = loud.first?.line ?? ""
        #expect(line.contains("UNAUTHORIZED"), "\(what): \(line)")
        #expect(line.contains(storeSays), "\(what): \(line)")
        #expect(line.contains("--store-secret"), "\(what): \(line)")
        #expect(failures.count >= 2, "\(what): reconnects should have been attempted: \(failures.map(\.line))")
        #expect(failures.dropFirst().allSatisfy { $0.level == .debug }, "\(what): \(failures.map(\.line))")
    }
}
