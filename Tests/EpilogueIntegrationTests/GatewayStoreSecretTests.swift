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

/// A store with `--auth-secret` and a gateway in front of it, in-process, with the gateway's log captured.
private func withSecretStack<T: Sendable>(storeSecret: String, gatewaySecret: String?, logs: CapturedLogs,
                                          _ body: @Sendable (Int, GatewayServer) async throws -> T) async throws -> T {
    let dir = TestSupport.temporaryDirectory()
    defer { TestSupport.removeDirectory(dir) }
    return try await withStoreServer(directory: dir, secret: storeSecret) { storePort, _ in
        try await withGateway(storePort: storePort, storeSecret: gatewaySecret, logger: logs.logger(label: "epilogue.gateway"), body)
    }
}

@Suite(.timeLimit(.minutes(1))) struct GatewayStoreSecretTests {
    @Test func gatewayWithTheStoresSecretIsServed() async throws {
        let logs = CapturedLogs()
        try await withSecretStack(storeSecret: "s3cret-shared", gatewaySecret: "s3cret-shared", logs: logs) { port, server in
            for _ in 0..<200 where !server.store.isConnected { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.store.isConnected, "the client never completed an authenticated handshake: \(server.store.lastError)")
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
            #expect(!server.store.isConnected, "\(what)")
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
