import EpilogueStorage
import EpilogueProtocol
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

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
        /// Time a started frame has to arrive whole (catches clients trickling bytes).
        public var frameTimeout: TimeAmount = .seconds(30)
        public var maximumFrameSize: UInt32
        /// Writes and SEARCHes in flight per connection before the server stops reading from it.
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
    private let listener: ConnectionServer
    private let metrics = StoreMetrics()
    private let startedAt = Date()
    /// The connections that asked for INVALIDATE pushes.
    let tracking = TrackingTable()

    public init(configuration: Configuration, store: RecordStore, logger: Logger,
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

    public func run() async throws {
        let configuration = self.configuration
        // SEARCHes rank here, not on the event loops (StoreRequestHandler.isOffloaded): one
        // thread per core, as many as loops; the store's read lock lets them rank at once.
        let searchPool = NIOThreadPool(numberOfThreads: System.coreCount)
        searchPool.start()
        let requests = StoreRequestHandler(store: store, connections: { [listener] in listener.connectionCount }, startedAt: startedAt,
                                           tracking: tracking, searchPool: searchPool)
        let (metrics, logger) = (self.metrics, self.logger)
        let server = try await listener.bind(initialize: { channel in
            let sync = channel.pipeline.syncOperations
            // busyWhileWriting: a client reading a long EXPORT or BACKUP sends nothing meanwhile
            // (the gateway's EXPORT of 1M records was cut off at the 300 s default).
            try sync.addInputTimeouts(idleTimeout: configuration.idleTimeout, messageTimeout: configuration.frameTimeout,
                                      boundaries: FrameBoundaries(), busyWhileWriting: true)
            try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: configuration.maximumFrameSize)))
            try sync.addHandler(MessageToByteHandler(FrameEncoder()))
            let machine = StoreConnectionStateMachine(secret: configuration.secret, maximumFrameSize: configuration.maximumFrameSize,
                                                      maximumInFlightWrites: configuration.maximumInFlightWrites,
                                                      availableDictionaries: { requests.availableDictionaries })
            try sync.addHandler(StoreConnectionHandler(machine: machine, requests: requests, metrics: metrics,
                                                       maximumFrameSize: configuration.maximumFrameSize, logger: logger))
            metrics.connections.record(self.listener.connectionCount)
            channel.closeFuture.whenComplete { _ in metrics.connections.record(self.listener.connectionCount) }
        }, refuse: { channel in
            logger.warning("connection refused: limit reached", metadata: ["limit": "\(configuration.maximumConnections)"])
            try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
            let busy = ServerMessage.error(code: .busy, message: "connection limit of \(configuration.maximumConnections) reached")
            channel.writeAndFlush(busy.frame(requestID: 0)).whenComplete { _ in channel.close(promise: nil) }
        })
        metrics.update(store.figures())
        // Size gauges refresh once a second rather than after every write: each refresh is a pass
        // through the store's lock, which a PUT-heavy load should not pay per request.
        let store = self.store
        let refresher = server.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            metrics.update(store.figures())
        }
        defer { refresher.cancel() }
        do {
            try await listener.serve(server, service: "store", logger: logger)
        } catch {
            try? await searchPool.shutdownGracefully()
            throw error
        }
        // Every connection has drained, so every SEARCH was answered: nothing is left queued.
        try await searchPool.shutdownGracefully()
    }
}
