import EpilogueProtocol
import EpilogueShared
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `epilogue-store`'s network side: wire protocol v1 over TCP with SwiftNIO, run as a
/// ServiceLifecycle service. On graceful shutdown it stops accepting, stops reading new requests,
/// lets in-flight requests finish and answers them, then flushes the log.
public final class StoreServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var secret: String?
        public var maximumConnections: Int
        public var idleTimeout: TimeAmount
        public var maximumFrameSize: UInt32
        /// Writes in flight per connection before the server stops reading from it.
        public var maximumInFlightWrites: Int

        public init(host: String = "127.0.0.1", port: Int = 7701, secret: String? = nil, maximumConnections: Int = 1024,
                    idleTimeout: TimeAmount = .seconds(300), maximumFrameSize: UInt32 = WireProtocol.defaultMaximumFrameSize,
                    maximumInFlightWrites: Int = 256) {
            self.host = host
            self.port = port
            self.secret = secret
            self.maximumConnections = maximumConnections
            self.idleTimeout = idleTimeout
            self.maximumFrameSize = maximumFrameSize
            self.maximumInFlightWrites = maximumInFlightWrites
        }
    }

    public let configuration: Configuration
    let store: RecordStore
    let logger: Logger
    private let group: any EventLoopGroup
    private let openConnections = Atomic<Int>(0)
    private let onListening: @Sendable (SocketAddress) -> Void
    private let metrics = StoreMetrics()

    public init(configuration: Configuration, store: RecordStore, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.group = group
        self.onListening = onListening
    }

    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    public func run() async throws {
        let maxFrame = configuration.maximumFrameSize
        let idle = configuration.idleTimeout
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after sending (`nc -q`, scripts) still gets its answers.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(IdleConnectionCloser())
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: maxFrame)))
                    try sync.addHandler(MessageToByteHandler(FrameEncoder()))
                    return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                }
            }
        metrics.update(store.figures())
        if let address = server.channel.localAddress { onListening(address) }
        logger.info("store listening", metadata: ["address": "\(server.channel.localAddress.map { "\($0)" } ?? "?")"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        logger.info("store stopped accepting; connections drained")
    }

    private func serve(_ connection: NIOAsyncChannel<Frame, Frame>) async {
        let count = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.connections.record(count)
        defer { metrics.connections.record(openConnections.wrappingSubtract(1, ordering: .relaxed).newValue) }
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "?"
        var logger = self.logger
        logger[metadataKey: "peer"] = "\(peer)"
        do {
            try await connection.executeThenClose { inbound, outbound in
                if count > configuration.maximumConnections {
                    logger.warning("connection refused: limit reached", metadata: ["limit": "\(configuration.maximumConnections)"])
                    try await outbound.write(ServerMessage.error(code: .busy, message: "connection limit of \(configuration.maximumConnections) reached").frame(requestID: 0))
                    return
                }
                try await serveRequests(inbound: inbound, outbound: outbound, channel: connection.channel, logger: logger)
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)"])
        }
    }

    private func serveRequests(inbound: NIOAsyncChannelInboundStream<Frame>, outbound: NIOAsyncChannelOutboundWriter<Frame>,
                               channel: any Channel, logger: Logger) async throws {
        var machine = StoreConnectionStateMachine(secret: configuration.secret, maximumFrameSize: configuration.maximumFrameSize)
        let handler = StoreRequestHandler(store: store, connections: { [self] in self.connectionCount })
        let maxInFlight = configuration.maximumInFlightWrites
        try await withThrowingTaskGroup(of: Void.self) { writes in
            var inFlight = 0
            try await withGracefulShutdownHandler {
                do {
                    for try await frame in inbound {
                        switch machine.frameReceived(frame) {
                        case .ignore:
                            continue
                        case .send(let message, let requestID):
                            try await outbound.write(message.frame(requestID: requestID))
                        case .sendAndClose(let message, let requestID):
                            logger.info("closing connection", metadata: ["reason": "\(message)"])
                            try await outbound.write(message.frame(requestID: requestID))
                            return
                        case .serve(let request, let requestID):
                            let dictionaries = machine.clientDictionaries
                            var logger = logger
                            if let traceID = frame.traceID { logger[metadataKey: "trace_id"] = "\(TraceID.format(traceID))" }
                            if StoreRequestHandler.isWrite(request) {
                                // Writes wait for fsync: run them concurrently so one fsync covers many.
                                if inFlight >= maxInFlight {
                                    try await writes.next()
                                    inFlight -= 1
                                }
                                inFlight += 1
                                writes.addTask {
                                    let frames = await self.respond(handler, request, requestID, dictionaries, logger)
                                    try await outbound.write(contentsOf: frames)
                                }
                            } else {
                                let frames = await respond(handler, request, requestID, dictionaries, logger)
                                try await outbound.write(contentsOf: frames)
                            }
                        }
                    }
                } catch let error where error is ProtocolError {
                    if case .sendAndClose(let message, let requestID) = machine.framingFailed(error) {
                        logger.info("closing connection", metadata: ["reason": "\(message)"])
                        try? await outbound.write(message.frame(requestID: requestID))
                    }
                } catch let error as ByteToMessageDecoderError {
                    logger.info("closing connection", metadata: ["reason": "\(error)"])
                }
            } onGracefulShutdown: {
                // Stop taking requests; those already read are still answered below.
                channel.close(mode: .input, promise: nil)
            }
            try await writes.waitForAll()
        }
    }
}

extension StoreServer {
    /// Answers one request and records it in the metrics.
    private func respond(_ handler: StoreRequestHandler, _ request: ClientMessage, _ requestID: UInt32,
                         _ dictionaries: Set<UInt32>, _ logger: Logger) async -> [Frame] {
        let started = ContinuousClock.now
        let frames = await handler.respond(to: request, requestID: requestID, clientDictionaries: dictionaries)
        let elapsed = ContinuousClock.now - started
        metrics.served(request.type, frames: frames, nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        if StoreRequestHandler.isWrite(request) { metrics.update(store.figures()) }
        logger.debug("request served", metadata: ["type": "\(request.type.name)", "request_id": "\(requestID)",
                                                  "frames": "\(frames.count)", "micros": "\(elapsed.components.attoseconds / 1_000_000_000_000 + elapsed.components.seconds * 1_000_000)"])
        return frames
    }
}
