import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import EpilogueStore

enum TestSupport {
    static let logger: Logger = {
        var logger = Logger(label: "epilogue.test")
        logger.logLevel = .critical
        return logger
    }()

    /// A fresh directory under the system temp dir, removed by the caller via `removeDirectory`.
    static func temporaryDirectory(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = FileManager.default.temporaryDirectory.path + "/epilogue-test-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func openStore(_ directory: String, fsync: FsyncPolicy = .always, dataset: Bool = false) async throws -> RecordStore {
        try await RecordStore(configuration: .init(dataDirectory: directory, fsync: fsync, loadBundledDataset: dataset), logger: logger)
    }

    static func content(film: String = "La La Land", subject: String = "epilogue", reading: String = "A what-if montage of the life they gave up.",
                        kind: SourceKind = .critic, themes: [String] = ["what-if"]) -> RecordContent {
        RecordContent(film: film, year: film == "La La Land" ? 2016 : 2024, director: film == "La La Land" ? "Damien Chazelle" : "Jesse Eisenberg",
                      subject: subject, reading: reading, source: "A critic, somewhere", sourceKind: kind, themes: themes)
    }
}

/// A bare wire-protocol client for tests: raw frames, no pooling, no retries.
/// Use it through `withWireClient`, which closes the connection afterwards.
final class WireTestClient: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<Frame>
    let channel: any Channel

    init(inbound: NIOAsyncChannelInboundStream<Frame>, outbound: NIOAsyncChannelOutboundWriter<Frame>, channel: any Channel) {
        self.iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.channel = channel
    }

    /// HELLO + AUTHENTICATE; returns the final handshake message (READY or ERROR).
    @discardableResult
    func handshake(secret: String? = nil, versions: [UInt16] = [1], dictionaries: [UInt32] = [1]) async throws -> ServerMessage {
        try await send(.hello(Hello(versions: versions, clientName: "test", dictionaries: dictionaries)), id: 0)
        let challenge = try await receive().message
        guard case .challenge(let c) = challenge else { return challenge }
        let proof = secret.map { SharedSecretAuth.proof(secret: $0, nonce: c.nonce) } ?? []
        try await send(.authenticate(proof: proof), id: 0)
        return try await receive().message
    }

    func send(_ message: ClientMessage, id: UInt32) async throws {
        try await outbound.write(message.frame(requestID: id))
    }

    func receive() async throws -> (message: ServerMessage, requestID: UInt32, flags: FrameFlags) {
        guard let frame = try await iterator.next() else { throw ClientClosed() }
        return (try ServerMessage(frame: frame), frame.requestID, frame.flags)
    }

    /// True when the server closed the connection (after any frames still queued).
    func receivesEndOfStream() async -> Bool {
        do { return try await iterator.next() == nil } catch { return true }
    }

    /// Reads frames until the stream for one request ends.
    func receiveStream() async throws -> [ServerMessage] {
        var messages: [ServerMessage] = []
        while true {
            let (message, _, flags) = try await receive()
            messages.append(message)
            if !flags.contains(.streamContinues) { return messages }
        }
    }

    struct ClientClosed: Error {}
}

func withWireClient<T: Sendable>(port: Int, _ body: (WireTestClient) async throws -> T) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
            }
        }
    let raw = channel.channel
    return try await channel.executeThenClose { inbound, outbound in
        try await body(WireTestClient(inbound: inbound, outbound: outbound, channel: raw))
    }
}

/// Runs a store server on an ephemeral port for the duration of `body`.
func withStoreServer<T: Sendable>(
    directory: String, secret: String? = nil, maximumConnections: Int = 64, idleTimeout: TimeAmount = .seconds(30),
    dataset: Bool = false, _ body: @Sendable (Int, RecordStore) async throws -> T
) async throws -> T {
    let store = try await TestSupport.openStore(directory, dataset: dataset)
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = StoreServer(
        configuration: .init(host: "127.0.0.1", port: 0, secret: secret, maximumConnections: maximumConnections, idleTimeout: idleTimeout),
        store: store, logger: TestSupport.logger,
        onListening: { address in continuation.yield(address.port ?? 0) })
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await server.run(); return nil }
        var iterator = ports.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        defer { group.cancelAll(); store.close() }
        let result = try await body(port, store)
        return result
    }
}
