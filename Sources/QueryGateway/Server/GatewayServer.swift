import EpilogueServerKit
import EpilogueStoreClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `epilogue-gateway`'s listener: the line-based text protocol over TCP, one `GatewaySession`
/// per connection, all sharing one `StoreClient`. Runs as a ServiceLifecycle service; on graceful
/// shutdown it stops accepting, lets each connection finish the command it is on, and closes. The
/// `StoreClient` is a service of its own, run before this one so that it stops after it.
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
        /// Commands of one connection read ahead of their replies (pipelining) before the gateway
        /// stops reading from it.
        public var maximumPipelinedCommands: Int

        /// The unfinished-line timeout the executable derives from its idle timeout
        /// (docs/TEXT_PROTOCOL.md "Limits"): min(idle timeout, 30 s).
        public static func lineTimeout(idleTimeout: TimeAmount) -> TimeAmount {
            min(idleTimeout, .seconds(30))
        }

        public init(host: String = "127.0.0.1", port: Int = 7700, maximumLineLength: Int = 64 * 1024,
                    maximumConnections: Int = 1024, idleTimeout: TimeAmount = .seconds(300),
                    lineTimeout: TimeAmount = .seconds(30), writeToken: String? = nil, maximumPipelinedCommands: Int = 128) {
            self.host = host
            self.port = port
            self.maximumLineLength = maximumLineLength
            self.maximumConnections = maximumConnections
            self.idleTimeout = idleTimeout
            self.lineTimeout = lineTimeout
            self.writeToken = writeToken
            self.maximumPipelinedCommands = maximumPipelinedCommands
        }
    }

    public let configuration: Configuration
    public let store: StoreClient
    let logger: Logger
    let startedAt = Date()
    private let listener: ConnectionServer
    /// How much a streamed EXPORT held for a slow reader at most (see `ExportBufferGauge`).
    public let exportBuffer = ExportBufferGauge()

    public init(configuration: Configuration, store: StoreClient, logger: Logger,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.listener = ConnectionServer(configuration: .init(host: configuration.host, port: configuration.port,
                                                              maximumConnections: configuration.maximumConnections),
                                         group: group, onListening: onListening)
    }

    public var connectionCount: Int { listener.connectionCount }
    public var connectionsAccepted: Int { listener.connectionsAccepted }

    /// The gateway's own rows of STATS.
    func figures() -> [(name: String, value: String)] {
        let cache = store.cacheFigures
        return [
            ("gateway_connections", "\(connectionCount)"),
            ("gateway_connections_total", "\(connectionsAccepted)"),
            ("gateway_uptime_seconds", "\(Int(Date().timeIntervalSince(startedAt)))"),
            ("gateway_cache", cache.map { $0.serving ? "serving" : "off until the store pushes invalidations" } ?? "disabled"),
            ("gateway_cache_records", "\(cache?.records ?? 0)"),
            ("gateway_cache_bytes", "\(cache?.bytes ?? 0)"),
            ("gateway_cache_hits", "\(cache?.hits ?? 0)"),
            ("gateway_cache_misses", "\(cache?.misses ?? 0)"),
            ("store_address", "\(store.configuration.host):\(store.configuration.port)"),
        ]
    }

    public func run() async throws {
        let configuration = self.configuration
        let (store, logger) = (self.store, self.logger)
        let server = try await listener.bind(initialize: { [self] channel in
            let sync = channel.pipeline.syncOperations
            try sync.addInputTimeouts(idleTimeout: configuration.idleTimeout, messageTimeout: configuration.lineTimeout,
                                      boundaries: LineBoundaries(), busyWhileWriting: true)
            try sync.addHandler(TelnetFilterHandler())
            try sync.addHandler(ByteToMessageHandler(BoundedLineDecoder(maximumLineLength: configuration.maximumLineLength)))
            let lane = StoreLane(client: store, loop: channel.eventLoop)
            try sync.addHandler(GatewayConnectionHandler(session: GatewaySession(writeToken: configuration.writeToken),
                                                         maximumInFlight: configuration.maximumPipelinedCommands, logger: logger,
                                                         figures: { [self] in figures() }, store: lane, exportBuffer: exportBuffer))
        }, refuse: { channel in
            let reply = TextResponse.error(code: .busy, message: "too many connections (limit \(configuration.maximumConnections)); try again later")
            channel.writeAndFlush(channel.allocator.buffer(string: reply.serialized())).whenComplete { _ in channel.close(promise: nil) }
        })
        try await listener.serve(server, service: "gateway", logger: logger,
                                 metadata: ["store": "\(store.configuration.host):\(store.configuration.port)"])
    }
}
