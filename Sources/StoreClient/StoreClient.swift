import EpilogueProtocol
import EpilogueModel
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The typed client of the store: every request answered with domain values (`Record`,
/// `SearchResultPage`, `FilmSummary`…) or one error, `StoreClientError`, which carries the store's wire
/// code when it refused. Record bodies are inflated here (PROTOCOL.md §2.4), fetching a trained
/// dictionary with GET_DICTIONARY the first time one is needed; callers never see body encodings.
///
/// Built on `StorePool` (persistent, pipelined, reconnecting connections). As a ServiceLifecycle
/// `Service`, `run()` keeps the connections up until graceful shutdown or cancellation: put it in
/// the service group before the services that use it, so it stops after them.
public final class StoreClient: Service, Sendable {
    /// Where the store is and how patient to be with it.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var secret: String?
        public var connections: Int
        public var requestTimeout: TimeAmount
        public var connectTimeout: TimeAmount
        public var initialBackoff: TimeAmount
        public var maximumBackoff: TimeAmount
        /// Bytes of records kept for GET (`--cache-mb`), coherent through the store's pushes
        /// (PROTOCOL.md, "Tracking"); 0 keeps none and sends no TRACK.
        public var cacheBytes: Int
        /// How long the cache serves hits after the last frame read on its tracking connection
        /// (see `TrackingLease`): the bound on staleness when the store freezes or the link is
        /// silently cut. That connection sends a PING after half of it with nothing read.
        public var cacheLease: TimeAmount

        public static let defaultCacheLease = TimeAmount.seconds(2)

        public init(host: String, port: Int, secret: String? = nil, connections: Int = 4,
                    requestTimeout: TimeAmount = .seconds(5), connectTimeout: TimeAmount = .seconds(2),
                    initialBackoff: TimeAmount = .milliseconds(50), maximumBackoff: TimeAmount = .seconds(2),
                    cacheBytes: Int = 0, cacheLease: TimeAmount = Configuration.defaultCacheLease) {
            self.host = host
            self.port = port
            self.secret = secret
            self.connections = connections
            self.requestTimeout = requestTimeout
            self.connectTimeout = connectTimeout
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.cacheBytes = cacheBytes
            self.cacheLease = cacheLease
        }
    }

    private let pool: StorePool
    let inflater: RecordInflater
    /// Nil when `cacheBytes` is 0.
    let cache: SharedRecordCache?
    private let group: any EventLoopGroup

    /// `clientName` goes into HELLO. `dictionaries`: trained dictionary ids to announce from the
    /// first connection on (by default only those an earlier READY listed).
    public init(configuration: Configuration, clientName: String = "epilogue-gateway", dictionaries: [UInt32] = [],
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        let inflater = RecordInflater(alsoAnnounced: dictionaries)
        let cache = configuration.cacheBytes > 0 ? SharedRecordCache(capacity: configuration.cacheBytes, lease: configuration.cacheLease) : nil
        self.inflater = inflater
        self.cache = cache
        self.group = group
        self.pool = StorePool(configuration: configuration, clientName: clientName, inflater: inflater, group: group, logger: logger,
                              cache: cache)
    }

    public var configuration: Configuration { pool.configuration }

    /// True when at least one connection has completed its handshake.
    public var isConnected: Bool { pool.isConnected }

    /// Why the last connection attempt failed or the last connection ended.
    public var lastError: String { pool.lastError }

    /// The record cache's state, for STATS; nil when there is none (`cacheBytes` 0).
    public var cacheFigures: (serving: Bool, records: Int, bytes: Int, hits: Int, misses: Int)? {
        cache.map { cache in
            let lookups = cache.lookups
            return (cache.isServing, cache.count, cache.bytes, lookups.hits, lookups.misses)
        }
    }

    public func run() async throws {
        start()
        defer { shutdown() }
        try? await gracefulShutdown()
    }

    /// Opens the connections in the background (requests before that fail as unavailable).
    func start() { pool.start() }

    func shutdown() { pool.shutdown() }

    /// Waits (at most `timeout`) for a first connection; false if there is none by then.
    /// For one-shot callers (scripts, `epilogue-store backup`) that run the client themselves.
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !pool.isConnected {
            guard clock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Runs `body` with a started client, then stops it. The client may not be connected yet
    /// (see `waitUntilConnected`).
    public static func withClient<T>(configuration: Configuration, clientName: String, logger: Logger,
                                     _ body: (StoreClient) async throws -> T) async throws -> T {
        let client = StoreClient(configuration: configuration, clientName: clientName, logger: logger)
        client.start()
        defer { client.shutdown() }
        return try await body(client)
    }

    // MARK: Requests

    /// A connection for a caller that wants its requests applied in the order it sends them:
    /// pass it as `lane` to `send` (see `StorePool.send`).
    public func lane(preferring loop: (any EventLoop)?) -> Int? {
        pool.lane(preferring: loop)
    }

    /// Sends `request` at once (so requests sent in turn on one lane reach the store in that
    /// order) and answers on the connection's event loop; the future fails only with
    /// `StoreClientError`. A connection on `loop` is preferred, so a caller on an event loop stays
    /// on its thread.
    ///
    /// With a record cache, a GET it holds is answered at once on `loop` without the store, a
    /// miss's answer is kept, and a write drops its ids (PROTOCOL.md "Tracking", client rules).
    public func send<Answer>(_ request: StoreRequest<Answer>, traceID: UInt64? = nil, lane: Int? = nil,
                             preferring loop: (any EventLoop)? = nil) -> EventLoopFuture<Answer> {
        guard let cache, let use = request.cacheUse else { return sendToStore(request, traceID: traceID, lane: lane, preferring: loop) }
        switch use {
        case .read(let id, let answer, let record):
            switch cache.lookupOrBeginFill(id) {
            case .hit(let hit):
                return (loop ?? group.next()).makeSucceededFuture(answer(hit))
            case .miss(let ticket):
                let answered = sendToStore(request, traceID: traceID, lane: lane, preferring: loop)
                if let ticket { answered.whenComplete { cache.completeFill(ticket, with: try? record($0.get())) } }
                return answered
            }
        case .write(let ids):
            // Read-your-writes without waiting for the store's push (see `RecordCache.beginWrite`).
            cache.beginWrite(ids)
            let answered = sendToStore(request, traceID: traceID, lane: lane, preferring: loop)
            answered.whenComplete { _ in cache.endWrite(ids) }
            return answered
        }
    }

    private func sendToStore<Answer>(_ request: StoreRequest<Answer>, traceID: UInt64?, lane: Int?,
                                     preferring loop: (any EventLoop)?) -> EventLoopFuture<Answer> {
        let answered = pool.send(request.message, traceID: traceID, lane: lane, preferring: loop)
        // One promise rather than a chain of futures: this is every gateway command's path.
        let promise = answered.eventLoop.makePromise(of: Answer.self)
        let inflater = self.inflater
        answered.whenComplete { result in
            let answers: [ServerMessage]
            switch result {
            case .success(let frames): answers = frames
            case .failure(let error): return promise.fail(Self.clientError(error))
            }
            @Sendable func decode() {
                do { promise.succeed(try request.answer(from: answers, inflater: inflater)) } catch { promise.fail(error) }
            }
            // A refusal has no bodies to inflate.
            let missing = storeRefusal(in: answers) == nil ? inflater.missingDictionaries(in: answers) : []
            guard !missing.isEmpty else { return decode() }
            self.fetchDictionaries(missing, lane: lane, preferring: loop).whenComplete { fetched in
                switch fetched {
                case .success: decode()
                case .failure(let error): promise.fail(Self.clientError(error))
                }
            }
        }
        return promise.futureResult
    }

    /// `send`, awaited.
    public func request<Answer>(_ request: StoreRequest<Answer>) async throws(StoreClientError) -> Answer {
        do {
            return try await send(request).get()
        } catch {
            throw Self.clientError(error)
        }
    }

    private static func clientError(_ error: any Error) -> StoreClientError {
        error as? StoreClientError ?? .unavailable("\(error)")
    }

    /// Fetches trained dictionaries the first time a record needs one; they are kept for good.
    private func fetchDictionaries(_ ids: [UInt32], lane: Int?, preferring loop: (any EventLoop)?) -> EventLoopFuture<Void> {
        let inflater = self.inflater
        let fetches = ids.map { id in
            send(.dictionary(id: id), lane: lane, preferring: loop).map { bytes in inflater.add(dictionaryID: id, bytes: bytes) }
        }
        return EventLoopFuture.andAllSucceed(fetches, on: fetches[0].eventLoop)
    }

    public func ping() async throws(StoreClientError) { try await request(.ping("client")) }

    public func get(id: String) async throws(StoreClientError) -> Record { try await request(.get(id: id)) }

    public func find(_ filter: RecordFilter, limit: Int, offset: Int = 0) async throws(StoreClientError) -> RecordPage {
        try await request(.find(filter, limit: limit, offset: offset))
    }

    public func search(_ text: String, _ filter: RecordFilter = RecordFilter(), limit: Int, offset: Int = 0,
                       fuzzy: Bool = false) async throws(StoreClientError) -> SearchResultPage {
        try await request(.search(text, filter, limit: limit, offset: offset, fuzzy: fuzzy))
    }

    @discardableResult
    public func put(id: String, content: RecordContent, expectedVersion: UInt64? = nil) async throws(StoreClientError) -> (version: UInt64, updatedAt: Int64) {
        try await request(.put(id: id, content: content, expectedVersion: expectedVersion))
    }

    @discardableResult
    public func delete(id: String, expectedVersion: UInt64? = nil) async throws(StoreClientError) -> UInt64 {
        try await request(.delete(id: id, expectedVersion: expectedVersion))
    }

    public func films() async throws(StoreClientError) -> [FilmSummary] { try await request(.films) }

    public func themes(film: String? = nil) async throws(StoreClientError) -> [ThemeCount] { try await request(.themes(film: film)) }

    public func stats() async throws(StoreClientError) -> [StatEntry] { try await request(.stats) }

    public func export(_ filter: RecordFilter = RecordFilter()) async throws(StoreClientError) -> [Record] { try await request(.export(filter)) }

    /// EXPORT for a reader that passes each record on as it comes (the gateway's EXPORT), in
    /// constant memory: on a store connection of its own made on `loop` and closed at the end,
    /// which `stream` pauses while the reader's output is full (see `StoreStream`). `receive` gets
    /// each record on `loop`, in id order; the future (on `loop`) succeeds after the last one or
    /// fails with `StoreClientError`. Trained dictionaries the store may use are fetched first.
    public func exportStream(_ filter: RecordFilter, on loop: any EventLoop, stream: StoreStream,
                             receive: @escaping @Sendable (Record) -> Void) -> EventLoopFuture<Void> {
        let inflater = self.inflater
        let announced = inflater.announcedExplicitly
        let missing = inflater.unheld(announced)
        let ready = missing.isEmpty ? loop.makeSucceededVoidFuture() : fetchDictionaries(missing, lane: nil, preferring: loop).hop(to: loop)
        let message = ClientMessage.export(filter)
        return ready.flatMap { [pool] in
            pool.stream(message, on: loop, dictionaries: announced, stream: stream) { frame in
                guard case .record(let wire) = frame else {
                    return stream.fail(.protocolError("unexpected \(frame.type) in the answer to EXPORT"))
                }
                do throws(StoreClientError) {
                    receive(try inflater.record(from: wire))
                } catch {
                    stream.fail(error)
                }
            }
        }.flatMapErrorThrowing { error in
            throw stream.failure ?? Self.clientError(error)
        }.flatMapThrowing { answers in
            if let refusal = storeRefusal(in: answers) { throw refusal }
            guard case .resultEnd? = answers.last else {
                throw StoreClientError.protocolError("unexpected answer to EXPORT: \(answers.map { "\($0.type)" }.joined(separator: ", "))")
            }
        }
    }

    /// Applies one IMPORT batch all or nothing; a refused item is `.refused` naming its line.
    public func `import`(_ existing: ImportExisting, _ items: [ImportItem], lane: Int? = nil) async throws(StoreClientError) -> ImportCounts {
        do {
            return try await send(.import(existing, items), lane: lane).get()
        } catch {
            throw Self.clientError(error)
        }
    }

    /// BACKUP: `receive` gets each chunk (a data file's bytes at an offset) on the connection's
    /// event loop as it arrives, and is not kept, so a slow `receive` slows the store's stream
    /// (TCP backpressure). Returns the files the store listed, with their lengths and CRC-32s.
    public func backup(receive: @escaping @Sendable (_ file: String, _ offset: UInt64, _ data: ByteBuffer) -> Void) async throws(StoreClientError) -> [BackupFile] {
        let answers: [ServerMessage]
        do {
            answers = try await pool.send(.backup, onFrame: { message in
                if case .backupChunk(let file, let offset, let data) = message { receive(file, offset, data) }
            }).get()
        } catch {
            throw Self.clientError(error)
        }
        if let refusal = storeRefusal(in: answers) { throw refusal }
        switch answers.last {
        case .backupEnd(let files)?: return files
        default: throw .protocolError("unexpected answer to BACKUP: \(answers.map { "\($0.type)" }.joined(separator: ", "))")
        }
    }
}
