import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Sent down a connection's pipeline on graceful shutdown: stop taking new requests, answer the
/// ones in flight, then close.
public struct DrainConnection: Sendable {
    public init() {}
}

/// The listener skeleton both services share: bind, accept, cap the number of connections, and
/// on graceful shutdown stop accepting, ask every connection to drain, and wait until all have
/// closed. Request handling lives entirely in the channel handlers each service installs, on the
/// event loop: no task hop per request.
public final class ConnectionServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var maximumConnections: Int

        public init(host: String, port: Int, maximumConnections: Int) {
            self.host = host
            self.port = port
            self.maximumConnections = maximumConnections
        }
    }

    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let live = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    private let accepted = NIOLockedValueBox(0)
    private let onListening: @Sendable (SocketAddress) -> Void

    /// `onListening` is told the bound address (tests bind port 0 and read the port from it).
    public init(configuration: Configuration, group: any EventLoopGroup, onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.configuration = configuration
        self.group = group
        self.onListening = onListening
    }

    public var connectionCount: Int { live.withLockedValue { $0.count } }
    public var connectionsAccepted: Int { accepted.withLockedValue { $0 } }

    /// Binds and serves until `shutdown` completes (graceful shutdown closes the listener), then
    /// drains the open connections. `initialize` sets up a connection's pipeline; `refuse` one
    /// that is over the limit (it should write its BUSY answer and close).
    public func bind(initialize: @escaping @Sendable (any Channel) throws -> Void,
                     refuse: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
        let limit = configuration.maximumConnections
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            // A client that half-closes after sending (`nc -q`, scripts) still gets its answers.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let key = ObjectIdentifier(channel)
                    let count = live.withLockedValue { live in
                        live[key] = channel
                        return live.count
                    }
                    accepted.withLockedValue { $0 += 1 }
                    channel.closeFuture.whenComplete { [self] _ in live.withLockedValue { _ = $0.removeValue(forKey: key) } }
                    if count > limit { try refuse(channel) } else { try initialize(channel) }
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        if let address = listener.localAddress { onListening(address) }
        return listener
    }

    /// Serves until graceful shutdown (or cancellation of the calling task) closes `listener`,
    /// then drains the open connections.
    public func serve(_ listener: any Channel) async throws {
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await listener.closeFuture.get()
            } onGracefulShutdown: {
                listener.close(promise: nil)
            }
        } onCancel: {
            listener.close(promise: nil)
        }
        await drainConnections()
    }

    /// `serve`, saying in `logger` where `service` listens (the address, and `metadata`) and when it
    /// has stopped accepting and drained its connections.
    public func serve(_ listener: any Channel, service: String, logger: Logger, metadata: Logger.Metadata = [:]) async throws {
        let address = listener.localAddress.map { "\($0)" } ?? "?"
        logger.info("\(service) listening", metadata: metadata.merging(["address": "\(address)"]) { _, new in new })
        // Stop taking requests at shutdown; those already read are still answered.
        try await serve(listener)
        logger.info("\(service) stopped accepting; connections drained")
    }

    /// Asks every open connection to drain and waits until all of them have closed.
    public func drainConnections() async {
        let channels = live.withLockedValue { Array($0.values) }
        for channel in channels {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(DrainConnection()) }
        }
        for channel in channels { try? await channel.closeFuture.get() }
    }
}
