import EpilogueShared
import EpilogueStoreClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `epilogue-gateway`'s listener: the line-based text protocol over TCP, one `GatewaySession`
/// per connection, all sharing one `StorePool`. Runs as a ServiceLifecycle service; on graceful
/// shutdown it stops accepting, lets each connection finish the command it is on, and closes.
public final class GatewayServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var maximumLineLength: Int
        public var maximumConnections: Int
        public var idleTimeout: TimeAmount
        /// A started line must be finished within this time.
        public var lineTimeout: TimeAmount
        public var writeToken: String?

        public init(host: String = "127.0.0.1", port: Int = 7700, maximumLineLength: Int = 64 * 1024,
                    maximumConnections: Int = 1024, idleTimeout: TimeAmount = .seconds(300),
                    lineTimeout: TimeAmount = .seconds(30), writeToken: String? = nil) {
            self.host = host
            self.port = port
            self.maximumLineLength = maximumLineLength
            self.maximumConnections = maximumConnections
            self.idleTimeout = idleTimeout
            self.lineTimeout = lineTimeout
            self.writeToken = writeToken
        }
    }

    public let configuration: Configuration
    public let pool: StorePool
    let logger: Logger
    let startedAt = Date()
    private let group: any EventLoopGroup
    private let openConnections = Atomic<Int>(0)
    private let totalConnections = Atomic<Int>(0)
    private let onListening: @Sendable (SocketAddress) -> Void

    public init(configuration: Configuration, pool: StorePool, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.configuration = configuration
        self.pool = pool
        self.logger = logger
        self.group = group
        self.onListening = onListening
    }

    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }
    public var connectionsAccepted: Int { totalConnections.load(ordering: .relaxed) }

    public func run() async throws {
        let configuration = self.configuration
        pool.start()
        defer { pool.shutdown() }
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after sending (`nc -q`, scripts) still gets its answers.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    try sync.addHandler(IdleConnectionCloser())
                    try sync.addHandler(SlowLineGuard(timeout: configuration.lineTimeout))
                    try sync.addHandler(TelnetFilterHandler())
                    try sync.addHandler(ByteToMessageHandler(BoundedLineDecoder(maximumLineLength: configuration.maximumLineLength)))
                    return try NIOAsyncChannel<LineEvent, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        if let address = server.channel.localAddress { onListening(address) }
        logger.info("gateway listening", metadata: [
            "address": "\(server.channel.localAddress.map { "\($0)" } ?? "?")",
            "store": "\(pool.configuration.host):\(pool.configuration.port)",
        ])
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
        logger.info("gateway stopped")
    }

    private func serve(_ connection: NIOAsyncChannel<LineEvent, ByteBuffer>) async {
        let count = openConnections.wrappingAdd(1, ordering: .relaxed).newValue
        totalConnections.wrappingAdd(1, ordering: .relaxed)
        defer { openConnections.wrappingSubtract(1, ordering: .relaxed) }
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                if count > configuration.maximumConnections {
                    let reply = TextResponse.error(code: "BUSY", message: "too many connections (limit \(configuration.maximumConnections)); try again later")
                    try await outbound.write(ByteBuffer(string: reply.serialized()))
                    return
                }
                var session = GatewaySession(server: self)
                try await withGracefulShutdownHandler {
                    for try await event in inbound {
                        let reply = await session.handle(event)
                        if !reply.text.isEmpty {
                            try await outbound.write(ByteBuffer(string: reply.text))
                        }
                        if reply.close { return }
                    }
                } onGracefulShutdown: {
                    channel.close(mode: .input, promise: nil)
                }
            }
        } catch {
            logger.debug("client connection ended with an error", metadata: ["error": "\(error)"])
        }
    }
}
