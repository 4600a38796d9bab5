import EpilogueProtocol
import EpilogueStoreClient
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

/// A text-protocol client for tests: raw bytes out, whole responses (up to the `.` line) in.
public final class TextTestClient: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending: [UInt8] = []

    public init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    public func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    public func sendBytes(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one command line and returns its response.
    public func command(_ line: String) async throws -> TextReply {
        try await send(line + "\n")
        return try await readReply()
    }

    /// Reads one response: its lines without CRLF, the terminator excluded, dot-stuffing undone.
    public func readReply() async throws -> TextReply {
        var lines: [String] = []
        while true {
            let line = try await readLine()
            if line == "." { return TextReply(lines: lines) }
            lines.append(lines.isEmpty ? line : (line.hasPrefix(".") ? String(line.dropFirst()) : line))
        }
    }

    /// The raw lines of one response as sent, terminator included.
    public func readRawReply() async throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try await readLine()
            lines.append(line)
            if line == "." { return lines }
        }
    }

    public func readLine() async throws -> String {
        while true {
            if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<end])
                pending.removeSubrange(...end)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard let chunk = try await iterator.next() else { throw Closed() }
            pending += Array(buffer: chunk)
        }
    }

    /// True once the server has closed the connection.
    public func isClosedByServer() async -> Bool {
        do {
            while true {
                guard let chunk = try await iterator.next() else { return true }
                pending += Array(buffer: chunk)
            }
        } catch {
            return true
        }
    }

    public struct Closed: Error {}
}

public struct TextReply: CustomStringConvertible, Sendable {
    public var lines: [String]
    public init(lines: [String]) { self.lines = lines }
    public var status: String { lines.first ?? "" }
    public var body: [String] { Array(lines.dropFirst()) }
    public var isOK: Bool { status == "OK" || status.hasPrefix("OK ") }
    public var errorCode: String? {
        guard status.hasPrefix("ERR ") else { return nil }
        return String(status.split(separator: " ")[1])
    }
    public var description: String { lines.joined(separator: "\n") }
}

public func withTextClient<T: Sendable>(port: Int, host: String = "127.0.0.1", _ body: (TextTestClient) async throws -> T) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connectTimeout(.seconds(2))
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await body(TextTestClient(inbound: inbound, outbound: outbound))
    }
}

/// Runs a gateway on an ephemeral port in front of the store at `storePort`; `logger` is the
/// gateway's and its store client's. `cacheBytes` 0 (the default here) runs it without a record cache.
public func withGateway<T: Sendable>(
    storePort: Int, storeSecret: String? = nil, writeToken: String? = nil, maximumLineLength: Int = 64 * 1024,
    maximumConnections: Int = 64, idleTimeout: TimeAmount = .seconds(30), lineTimeout: TimeAmount = .seconds(30),
    requestTimeout: TimeAmount = .seconds(5), cacheBytes: Int = 0, logger: Logger = TestSupport.logger,
    _ body: @Sendable (Int, GatewayServer) async throws -> T
) async throws -> T {
    let store = StoreClient(configuration: .init(host: "127.0.0.1", port: storePort, secret: storeSecret, connections: 2,
                                                 requestTimeout: requestTimeout, initialBackoff: .milliseconds(20),
                                                 maximumBackoff: .milliseconds(200), cacheBytes: cacheBytes),
                            logger: logger)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = GatewayServer(
        configuration: .init(host: "127.0.0.1", port: 0, maximumLineLength: maximumLineLength, maximumConnections: maximumConnections,
                             idleTimeout: idleTimeout, lineTimeout: lineTimeout, writeToken: writeToken),
        store: store, logger: logger, onListening: { continuation.yield($0.port ?? 0) })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await store.run(); return nil }
        group.addTask { try await server.run(); return nil }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        defer { group.cancelAll() }
        // Wait (bounded) for the client's first connection, so the first command doesn't race it.
        _ = await store.waitUntilConnected(timeout: .seconds(2))
        return try await body(port, server)
    }
}

/// A store with a gateway in front, both in-process, on ephemeral ports.
public func withStack<T: Sendable>(
    dataset: Bool = false, writeToken: String? = nil, maximumLineLength: Int = 64 * 1024, maximumConnections: Int = 64,
    idleTimeout: TimeAmount = .seconds(30), lineTimeout: TimeAmount = .seconds(30),
    _ body: @Sendable (Int, RecordStore) async throws -> T
) async throws -> T {
    let dir = TestSupport.temporaryDirectory()
    defer { TestSupport.removeDirectory(dir) }
    return try await withStoreServer(directory: dir, dataset: dataset) { storePort, store in
        try await withGateway(storePort: storePort, writeToken: writeToken, maximumLineLength: maximumLineLength,
                              maximumConnections: maximumConnections, idleTimeout: idleTimeout, lineTimeout: lineTimeout) { port, _ in
            try await body(port, store)
        }
    }
}

/// Paths of the built executables (they sit beside the test bundle).
public enum BuiltProducts {
    public static var directory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("").standardizedFileURL
    }

    public static func path(_ name: String) throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw Missing(name: name)
    }

    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "\(name) is not built next to the tests; run `swift build` first (swift test builds it)" }
    }
}
