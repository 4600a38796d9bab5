import EpilogueProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `StoreClient`'s link to the store: a fixed number of persistent, pipelined connections, each
/// a `StoreClientHandler`. Deals in wire messages; `StoreClient` turns them into domain values.
///
/// A slot whose connection drops reconnects by itself with exponential backoff. While no slot is
/// connected, requests fail at once with `unavailable` instead of queueing, so a user sees
/// `ERR STORE_UNAVAILABLE` promptly; once the store is back, the next reconnect restores service.
final class StorePool: Sendable {
    private struct Connection {
        var channel: any Channel
        var handler: NIOLoopBound<StoreClientHandler>
    }

    private enum Slot {
        case idle
        case connecting
        case ready(Connection)
        case waiting(backoff: TimeAmount)
    }

    private struct State {
        var slots: [Slot]
        var backoffs: [TimeAmount]
        var next = 0
        var nextLane = 0
        var lastError = "not connected yet"
        /// Failure reasons already logged loudly since the last successful connection: slots
        /// retrying in turn can interleave reasons (a timeout between two refusals), which must
        /// not make the same reason loud again.
        var reportedFailures: Set<String> = []
        var shutDown = false

        /// A ready slot, round-robin from the `cursor` position (which then moves past it): the
        /// first whose connection is on `loop`, else the first ready one.
        mutating func readySlot(advancing cursor: WritableKeyPath<State, Int>, preferring loop: (any EventLoop)?) -> Int? {
            var chosen: Int?
            for offset in 0..<slots.count {
                let index = (self[keyPath: cursor] + offset) % slots.count
                guard case .ready(let connection) = slots[index] else { continue }
                if loop == nil || connection.channel.eventLoop === loop {
                    chosen = index
                    break
                }
                if chosen == nil { chosen = index }
            }
            if let chosen { self[keyPath: cursor] = chosen + 1 }
            return chosen
        }
    }

    let configuration: StoreClient.Configuration
    private let clientName: String
    /// Which dictionaries each HELLO announces, and what READYs list.
    private let inflater: RecordInflater
    private let group: any EventLoopGroup
    /// The group's loops: slot `i` always connects on `loops[i % loops.count]`, so the
    /// connections are spread evenly and every loop that has a slot can serve its own callers
    /// without a thread hop (`group.next()` is shared with the listener and timers, so it could
    /// put several slots on one loop and none on another).
    private let loops: [any EventLoop]
    private let logger: Logger
    private let state: NIOLockedValueBox<State>
    /// The record cache the store's pushes keep coherent; nil without `--cache-mb`.
    private let cache: SharedRecordCache?
    /// The slot whose connection asks the store for INVALIDATE pushes (PROTOCOL.md, "Tracking").
    static let trackingSlot = 0

    init(configuration: StoreClient.Configuration, clientName: String, inflater: RecordInflater,
         group: any EventLoopGroup, logger: Logger, cache: SharedRecordCache? = nil) {
        self.configuration = configuration
        self.clientName = clientName
        self.inflater = inflater
        self.cache = cache
        self.group = group
        self.loops = Array(group.makeIterator())
        self.logger = logger
        self.state = NIOLockedValueBox(State(slots: Array(repeating: .idle, count: max(1, configuration.connections)),
                                             backoffs: Array(repeating: configuration.initialBackoff, count: max(1, configuration.connections))))
    }

    /// Opens every connection in the background; requests before that fail as unavailable. The
    /// first one goes alone: its READY lists the store's trained dictionaries, which the others
    /// then announce (so the store sends them bodies compressed, for this side to inflate).
    func start() {
        connect(slot: 0) { [self] in
            for index in 1..<max(1, configuration.connections) { connect(slot: index) }
        }
    }

    func shutdown() {
        let channels: [any Channel] = state.withLockedValue { state in
            state.shutDown = true
            return state.slots.compactMap { if case .ready(let c) = $0 { return c.channel } else { return nil } }
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Why the last connection attempt failed or the last connection ended.
    var lastError: String { state.withLockedValue { $0.lastError } }

    /// The event loop each slot connects on (see `loops`).
    func loop(ofSlot index: Int) -> any EventLoop {
        loops.isEmpty ? group.next() : loops[index % loops.count]
    }

    /// The event loop of each slot's connection while it is ready (nil otherwise); for tests.
    var readyLoops: [(any EventLoop)?] {
        state.withLockedValue { state in
            state.slots.map { if case .ready(let c) = $0 { return c.channel.eventLoop } else { return nil } }
        }
    }

    /// True when at least one connection has completed its handshake.
    var isConnected: Bool {
        state.withLockedValue { $0.slots.contains { if case .ready = $0 { return true } else { return false } } }
    }

    /// Sends one request; the future holds every frame of its answer. A connection on `loop` is
    /// preferred when one is ready, so a caller on an event loop stays on its thread.
    ///
    /// `lane` (from `lane(preferring:)`) names the connection to use while it is up: the store
    /// handles one connection's requests in the order it receives them, so a caller that sends
    /// everything through one lane gets its requests applied in order (a GET sees the PUT sent
    /// before it). While that connection is down, another one is used.
    func send(_ message: ClientMessage, traceID: UInt64? = nil, lane: Int? = nil,
                     preferring loop: (any EventLoop)? = nil) -> EventLoopFuture<[ServerMessage]> {
        send(message, traceID: traceID, lane: lane, preferring: loop, onFrame: nil)
    }

    /// `send` for a long stream: every frame but the last is handed to `onFrame` on the
    /// connection's event loop as it arrives (not kept), and the future holds the last one. A
    /// slow `onFrame` slows the connection's reads, so the sender is held back (TCP backpressure).
    func send(_ message: ClientMessage, traceID: UInt64? = nil, lane: Int? = nil,
                     preferring loop: (any EventLoop)? = nil,
                     onFrame: (@Sendable (ServerMessage) -> Void)?) -> EventLoopFuture<[ServerMessage]> {
        let connection: Connection? = state.withLockedValue { state in
            if let lane, lane < state.slots.count, case .ready(let connection) = state.slots[lane] { return connection }
            guard let index = state.readySlot(advancing: \.next, preferring: loop),
                  case .ready(let connection) = state.slots[index] else { return nil }
            return connection
        }
        guard let connection else {
            let why = state.withLockedValue { $0.lastError }
            return (loop ?? group.next()).makeFailedFuture(StoreClientError.unavailable(why))
        }
        let channelLoop = connection.channel.eventLoop
        let promise = channelLoop.makePromise(of: [ServerMessage].self)
        let timeout = configuration.requestTimeout
        if channelLoop.inEventLoop {
            connection.handler.value.send(message, traceID: traceID, timeout: timeout, promise: promise, onFrame: onFrame)
        } else {
            channelLoop.execute {
                connection.handler.value.send(message, traceID: traceID, timeout: timeout, promise: promise, onFrame: onFrame)
            }
        }
        return promise.futureResult
    }

    /// A connection for a caller that wants its requests kept in order (see `send`): one whose
    /// event loop is `loop` when there is one, spreading callers over the connections.
    func lane(preferring loop: (any EventLoop)?) -> Int? {
        state.withLockedValue { state in state.readySlot(advancing: \.nextLane, preferring: loop) }
    }

    /// `then` runs once this attempt has succeeded or failed.
    private func connect(slot index: Int, then: (@Sendable () -> Void)? = nil) {
        let proceed = state.withLockedValue { state -> Bool in
            guard !state.shutDown else { return false }
            state.slots[index] = .connecting
            return true
        }
        guard proceed else { return }
        let (configuration, cache) = (self.configuration, self.cache)
        let onInvalidate: (@Sendable ([String]) -> Void)?
        if let cache { onInvalidate = { ids in cache.invalidate(ids) } } else { onInvalidate = nil }
        open(on: loop(ofSlot: index), dictionaries: inflater.announced, onInvalidate: onInvalidate).whenComplete { result in
            defer { then?() }
            switch result {
            case .success(let connection):
                let keep = self.state.withLockedValue { state -> Bool in
                    guard !state.shutDown else { return false }
                    state.slots[index] = .ready(connection)
                    state.backoffs[index] = configuration.initialBackoff
                    state.reportedFailures = []
                    return true
                }
                guard keep else { connection.channel.close(promise: nil); return }
                self.logger.debug("store connection ready", metadata: ["slot": "\(index)"])
                if index == Self.trackingSlot, let cache { self.startTracking(on: connection, cache: cache) }
                connection.channel.closeFuture.whenComplete { _ in
                    // Pushes may have been missed: nothing cached can be trusted until TRACK is answered again.
                    if index == Self.trackingSlot { cache?.trackingLost() }
                    let shuttingDown = self.state.withLockedValue { state -> Bool in
                        state.lastError = "connection to \(configuration.host):\(configuration.port) lost"
                        return state.shutDown
                    }
                    guard !shuttingDown else { return }
                    self.logger.info("store connection lost; reconnecting", metadata: ["slot": "\(index)"])
                    self.scheduleReconnect(slot: index)
                }
            case .failure(let error):
                let message: String
                if let error = error as? StoreClientError { message = error.description } else { message = "\(configuration.host):\(configuration.port): \(error)" }
                let repeated = self.state.withLockedValue { state -> Bool in
                    state.lastError = message
                    return !state.reportedFailures.insert(message).inserted
                }
                // Once per distinct reason (reconnects retry every backoff): a refused handshake,
                // such as a wrong secret, is a configuration error an operator must see.
                let level: Logger.Level = repeated ? .debug : message.contains("refused the handshake") ? .error : .warning
                self.logger.log(level: level, "store connection failed", metadata: ["slot": "\(index)", "error": "\(message)"])
                self.scheduleReconnect(slot: index)
            }
        }
    }

    /// Connects on a loop of `group` and completes the handshake, announcing `dictionaries`; a
    /// store that accepts but never answers the handshake fails it after the connect timeout.
    /// `stream`: one socket read per read event (not NIO's default four), so what arrives after a
    /// `StoreStream` pauses is at most one read's worth of frames.
    private func open(on group: any EventLoopGroup, dictionaries: [UInt32], onInvalidate: (@Sendable ([String]) -> Void)? = nil,
                      stream: Bool = false) -> EventLoopFuture<Connection> {
        let (configuration, clientName, inflater) = (self.configuration, self.clientName, self.inflater)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.maxMessagesPerRead, value: UInt(stream ? 1 : 4))
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = StoreClientHandler(secret: configuration.secret, clientName: clientName,
                                                     dictionaries: dictionaries, readyPromise: channel.eventLoop.makePromise(of: Void.self),
                                                     onInvalidate: onInvalidate)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        return bootstrap.connect(host: configuration.host, port: configuration.port).flatMap { channel -> EventLoopFuture<Connection> in
            let handler: StoreClientHandler
            do {
                handler = try channel.pipeline.syncOperations.handler(type: StoreClientHandler.self)
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
            let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
            // A store that accepts but never answers the handshake (hung, or a half-dead link)
            // must not hold the slot forever.
            let handshakeTimeout = channel.eventLoop.scheduleTask(in: configuration.connectTimeout) {
                channel.close(promise: nil)
            }
            handler.ready.whenComplete { _ in handshakeTimeout.cancel() }
            return handler.ready.map {
                inflater.storeListed(bound.value.storeDictionaries)
                return Connection(channel: channel, handler: bound)
            }
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
        }
    }

    /// One long answer on a connection of its own, made on `loop` and closed when the answer ends
    /// (see `StoreStream`): every frame but the last goes to `onFrame` on `loop` as it arrives; the
    /// future holds the last one.
    func stream(_ message: ClientMessage, on loop: any EventLoop, dictionaries: [UInt32], stream: StoreStream,
                onFrame: @escaping @Sendable (ServerMessage) -> Void) -> EventLoopFuture<[ServerMessage]> {
        open(on: loop, dictionaries: dictionaries, stream: true).flatMapError { error in
            loop.makeFailedFuture(error as? StoreClientError ?? .unavailable("\(self.configuration.host):\(self.configuration.port): \(error)"))
        }.flatMap { connection in
            let handler = connection.handler.value
            let promise = loop.makePromise(of: [ServerMessage].self)
            handler.send(message, traceID: nil, timeout: nil, promise: promise, onFrame: { frame in
                stream.frameArrived()
                onFrame(frame)
            })
            stream.attach(handler: handler, channel: connection.channel)
            promise.futureResult.whenComplete { _ in stream.end() }
            return promise.futureResult
        }
    }

    /// Sends TRACK on the tracking slot's connection; the cache serves once the store answers it.
    /// A store that does not know TRACK (UNKNOWN_MESSAGE) leaves the cache off.
    private func startTracking(on connection: Connection, cache: SharedRecordCache) {
        let loop = connection.channel.eventLoop
        let answered = loop.makePromise(of: [ServerMessage].self)
        let timeout = configuration.requestTimeout
        loop.execute {
            let handler = connection.handler.value
            // Every frame from here on renews the cache's lease (TrackingLease).
            try? connection.channel.pipeline.syncOperations.addHandler(FrameHeardHandler { cache.heard() }, position: .before(handler))
            handler.send(.track(.broadcast), traceID: nil, timeout: timeout, promise: answered)
        }
        answered.futureResult.whenComplete { [logger] result in
            switch result {
            case .success(let answers) where answers == [.tracking(.broadcast)]:
                cache.trackingStarted()
                self.keepLease(on: connection, cache: cache)
                logger.debug("record cache serving: the store pushes invalidations")
            case .success(let answers):
                logger.warning("record cache off: the store did not take TRACK", metadata: ["answer": "\(answers.map { "\($0)" })"])
            case .failure(let error):
                logger.info("record cache off until the store connection is back", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Sends a PING on the tracking connection whenever it has been quiet for half the lease with
    /// nothing in flight; one unanswered within the request timeout closes the connection
    /// (`requestTimedOut`), which flushes the cache. Stops when the connection closes.
    private func keepLease(on connection: Connection, cache: SharedRecordCache) {
        let loop = connection.channel.eventLoop
        let timeout = configuration.requestTimeout
        let every = TimeAmount.nanoseconds(max(1_000_000, cache.leaseDuration.nanoseconds / 8))
        let task = loop.scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
            // A request in flight already probes the link (its timeout closes the connection too).
            guard connection.handler.value.inFlight == 0, cache.pingDue() else { return }
            // The answer only matters as a frame heard (FrameHeardHandler); a timeout closes the connection.
            connection.handler.value.send(.ping(ByteBuffer()), traceID: nil, timeout: timeout, promise: loop.makePromise())
        }
        connection.channel.closeFuture.whenComplete { _ in task.cancel() }
    }

    private func scheduleReconnect(slot index: Int) {
        let delay: TimeAmount? = state.withLockedValue { state in
            guard !state.shutDown else { return nil }
            let delay = state.backoffs[index]
            state.backoffs[index] = min(delay * 2, configuration.maximumBackoff)
            state.slots[index] = .waiting(backoff: delay)
            return delay
        }
        guard let delay else { return }
        loop(ofSlot: index).scheduleTask(in: delay) { self.connect(slot: index) }
    }
}

