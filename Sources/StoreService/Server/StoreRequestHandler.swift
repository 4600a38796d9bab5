import EpilogueStorage
import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import Foundation
import NIOCore
import NIOPosix

/// Turns one request into its response frames. No I/O of its own beyond the store, so it is
/// tested directly; the server only moves frames.
public struct StoreRequestHandler: Sendable {
    public static let maximumQueryLimit: UInt32 = 1_000
    public static let maximumSearchLimit: UInt32 = 1_000

    let store: RecordStore
    let connections: @Sendable () -> Int
    let startedAt: Date
    /// Who is told which records a durable write changed (PROTOCOL.md, "Tracking").
    let tracking: TrackingTable
    /// Where offloaded reads (`isOffloaded`) run; nil: on the caller, at once.
    let searchPool: NIOThreadPool?

    public init(store: RecordStore, connections: @escaping @Sendable () -> Int = { 0 }, startedAt: Date = Date(),
                tracking: TrackingTable = TrackingTable(), searchPool: NIOThreadPool? = nil) {
        self.store = store
        self.connections = connections
        self.startedAt = startedAt
        self.tracking = tracking
        self.searchPool = searchPool
    }

    /// Requests that must wait for the disk; the server runs these concurrently.
    public static func isWrite(_ message: ClientMessage) -> Bool {
        switch message {
        case .put, .delete, .import: return true
        default: return false
        }
    }

    /// Reads answered off the event loop, on `searchPool`: a SEARCH ranks for milliseconds at a
    /// million records, and its loop would serve no other connection meanwhile (GETs queued
    /// behind it for as long).
    public static func isOffloaded(_ message: ClientMessage) -> Bool {
        if case .search = message { return true }
        return false
    }

    /// Requests answered after the turn of the loop that started them (writes once durable,
    /// offloaded reads once the pool ran them), so possibly after later requests: each answer
    /// carries its request id.
    public static func isAnsweredLater(_ message: ClientMessage) -> Bool {
        isWrite(message) || isOffloaded(message)
    }

    /// Answers an offloaded read on `searchPool` (on the caller without one); `completion` gets
    /// its frames, from a pool thread.
    func respondOffLoop(_ message: ClientMessage, requestID: UInt32, clientDictionaries: Set<UInt32>,
                        completion: @escaping @Sendable ([Frame]) -> Void) {
        guard let searchPool else {
            return completion(respondToReadCatchingErrors(message, requestID: requestID, clientDictionaries: clientDictionaries))
        }
        searchPool.submit { state in
            guard case .active = state else {
                return completion(Self.refusal(.internalFault("the store is shutting down"), requestID: requestID))
            }
            completion(self.respondToReadCatchingErrors(message, requestID: requestID, clientDictionaries: clientDictionaries))
        }
    }

    /// Requests answered by a stream the connection sends a chunk at a time (EXPORT).
    public static func isStream(_ message: ClientMessage) -> Bool {
        switch message {
        case .export, .backup: return true
        default: return false
        }
    }

    /// Starts the stream that answers `message` (EXPORT or BACKUP), or the refusal in its place.
    func startStream(_ message: ClientMessage, requestID: UInt32, clientDictionaries: Set<UInt32>) -> ResponseStream {
        switch message {
        case .export(let filter):
            return .export(startExport(filter, requestID: requestID, clientDictionaries: clientDictionaries))
        case .backup:
            do {
                return .preparingBackup(try store.beginBackup(), requestID: requestID)
            } catch {
                return .refused(Self.refusal(error, requestID: requestID))
            }
        default:
            return .refused(Self.refusal(.badRequest("not a streamed request"), requestID: requestID))
        }
    }

    /// Starts an EXPORT: the matching records as of now (see `RecordStore.exportRecords`).
    func startExport(_ filter: RecordFilter, requestID: UInt32, clientDictionaries: Set<UInt32>) -> ExportStream {
        ExportStream(records: store.exportRecords(filter), requestID: requestID, clientDictionaries: clientDictionaries, requests: self)
    }

    /// A read's answer frames, with a refusal turned into its ERROR frame.
    public func respondToReadCatchingErrors(_ message: ClientMessage, requestID: UInt32, clientDictionaries: Set<UInt32>) -> [Frame] {
        do {
            return try respondToRead(message, requestID: requestID, clientDictionaries: clientDictionaries)
        } catch {
            return Self.refusal(error, requestID: requestID)
        }
    }

    /// `frame`, or ERROR TOO_LARGE in its place when it would be longer than the client was told
    /// to accept (a FILMS or THEMES list of a huge store).
    static func fitting(_ frame: Frame, maximumFrameSize: UInt32) -> Frame {
        let length = WireProtocol.headerSize + frame.payload.readableBytes
        guard length > Int(maximumFrameSize) else { return frame }
        return ServerMessage.error(code: .tooLarge, message: "the answer (\(length) bytes) exceeds the maximum frame size of \(maximumFrameSize)")
            .frame(requestID: frame.requestID)
    }

    /// The ERROR answer for a refused request.
    static func refusal(_ error: StoreError, requestID: UInt32) -> [Frame] {
        [ServerMessage.error(code: error.code, message: error.description).frame(requestID: requestID)]
    }

    /// Starts a write (PUT, DELETE, IMPORT) and calls `completion` with its answer once it is
    /// durable — from the fsync thread, or at once when it is refused. A write that succeeded is
    /// published to the tracking connections first, so their pushes are queued before the answer.
    public func respondToWrite(_ message: ClientMessage, requestID: UInt32, completion: @escaping @Sendable ([Frame]) -> Void) {
        let tracking = self.tracking
        switch message {
        case .put(let id, let content, let expected):
            store.put(id: id, content: content, expectedVersion: expected) { result in
                switch result {
                case .success(let written):
                    tracking.publish([id])
                    completion([ServerMessage.written(id: id, version: written.version, updatedAt: written.updatedAt).frame(requestID: requestID)])
                case .failure(let error):
                    completion(Self.refusal(error, requestID: requestID))
                }
            }
        case .delete(let id, let expected):
            store.delete(id: id, expectedVersion: expected) { result in
                switch result {
                case .success(let version):
                    tracking.publish([id])
                    completion([ServerMessage.deleted(id: id, version: version).frame(requestID: requestID)])
                case .failure(let error): completion(Self.refusal(error, requestID: requestID))
                }
            }
        case .import(let existing, let items):
            store.importBatch(items, existing: existing) { result in
                switch result {
                case .success(let counts):
                    // Every id of the batch: the skipped ones did not change, but naming them costs less than finding them.
                    tracking.publish(items.map(\.id))
                    completion([ServerMessage.imported(written: UInt32(counts.written), skipped: UInt32(counts.skipped),
                                                                   replaced: UInt32(counts.replaced)).frame(requestID: requestID)])
                case .failure(let error): completion(Self.refusal(error, requestID: requestID))
                }
            }
        default:
            completion(Self.refusal(.badRequest("not a write request"), requestID: requestID))
        }
    }

    /// Reads never wait, so the server answers them inline, in arrival order.
    public func respondToRead(_ message: ClientMessage, requestID: UInt32, clientDictionaries: Set<UInt32>) throws(StoreError) -> [Frame] {
        switch message {
        case .ping(let data):
            return [ServerMessage.pong(data).frame(requestID: requestID)]
        case .get(let id):
            guard let stored = store.record(id: id) else { throw .notFound(id: id) }
            return [ServerMessage.record(try wireRecord(stored, clientDictionaries)).frame(requestID: requestID)]
        case .query(let filter, let limit, let offset):
            guard limit > 0 else { throw .badRequest("limit must be at least 1") }
            let result = store.query(filter, limit: Int(min(limit, Self.maximumQueryLimit)), offset: Int(offset))
            var frames: [Frame] = []
            for stored in result.records {
                frames.append(ServerMessage.record(try wireRecord(stored, clientDictionaries)).frame(requestID: requestID, flags: .streamContinues))
            }
            frames.append(ServerMessage.resultEnd(returned: UInt32(result.records.count), total: UInt32(result.total)).frame(requestID: requestID))
            return frames
        case .search(let text, let filter, let limit, let offset, let fuzzy):
            guard limit > 0 else { throw .badRequest("limit must be at least 1") }
            let found: (results: [SearchHit], total: Int, suggestions: [String])
            do {
                found = try store.search(text, filter: filter, limit: Int(min(limit, Self.maximumSearchLimit)), offset: Int(offset), fuzzy: fuzzy)
            } catch {
                throw .badRequest("malformed query: \(error)")
            }
            let (hits, total, suggestions) = found
            var frames = hits.map { ServerMessage.hit($0).frame(requestID: requestID, flags: .streamContinues) }
            frames.append(ServerMessage.resultEnd(returned: UInt32(hits.count), total: UInt32(total), suggestions: suggestions).frame(requestID: requestID))
            return frames
        case .listFilms:
            return [ServerMessage.films(store.films()).frame(requestID: requestID)]
        case .listThemes(let film):
            return [ServerMessage.themes(store.themes(film: film)).frame(requestID: requestID)]
        case .stats:
            let f = store.figures()
            let entries: [(String, Int)] = [
                ("records", f.records), ("raw_bytes", f.rawBytes), ("stored_bytes", f.storedBytes),
                ("log_bytes", f.logBytes + f.dictionaryBytes), ("dictionary_id", Int(f.dictionaryID)),
                ("connections", connections()), ("uptime_seconds", Int(Date().timeIntervalSince(startedAt))),
                ("writes", f.writes), ("fsyncs", f.fsyncs), ("compactions", f.compactions),
            ]
            return [ServerMessage.stats(entries.map { StatEntry(name: $0.0, value: Int64($0.1)) }).frame(requestID: requestID)]
        case .getDictionary(let id):
            guard id != 0, let dictionary = store.dictionaries.dictionary(id: id) else { throw .dictionaryNotFound(id: id) }
            return [ServerMessage.dictionary(id: id, bytes: dictionary.bytes).frame(requestID: requestID)]
        case .export(let filter):
            // Whole, for direct callers; the server streams it through `startExport` instead.
            var stream = startExport(filter, requestID: requestID, clientDictionaries: clientDictionaries)
            var frames: [Frame] = []
            while !stream.isFinished { frames += stream.nextFrames(maximum: 1_000) }
            return frames
        case .backup:
            var stream = startStream(message, requestID: requestID, clientDictionaries: clientDictionaries)
            var frames: [Frame] = []
            while !stream.isFinished { frames += stream.nextFrames(maximum: 64) }
            return frames
        case .hello, .authenticate, .put, .delete, .import, .track:
            throw .badRequest("not a read request")
        }
    }

    /// Dictionary ids a client can fetch with GET_DICTIONARY (READY announces them): the built-in
    /// ones and those this store trained.
    public var availableDictionaries: [UInt32] {
        CompressionDictionary.all.map(\.id) + store.dictionaries.trained.map(\.id)
    }

    /// Sends the body as stored when the client can inflate it; inflates for clients that can't.
    func wireRecord(_ stored: StoredRecord, _ clientDictionaries: Set<UInt32>) throws(StoreError) -> WireRecord {
        // Bodies of trained dictionaries travel as the raw deflate they are stored as (encoding 2).
        if stored.dictionaryID != 0,
           clientDictionaries.contains(stored.dictionaryID) || clientDictionaries.contains(Hello.anyDictionary) {
            return try stored.wireRecord()
        }
        let record = try store.decode(stored)
        return WireRecord(id: stored.id, version: stored.version, updatedAt: stored.updatedAt, encoding: .plain,
                          dictionaryID: 0, body: RecordBody.encode(record.content))
    }
}

/// An EXPORT being sent: its snapshot and how far the connection got. The connection handler owns
/// it and asks for a chunk of frames whenever its channel is writable, so the answer is never
/// materialised whole: one chunk of RECORD frames (bodies as stored, or inflated for a client
/// without the dictionary) exists at a time.
struct ExportStream {
    private let records: [StoredRecord]
    let requestID: UInt32
    private let clientDictionaries: Set<UInt32>
    private let requests: StoreRequestHandler
    private var next = 0
    private(set) var isFinished = false

    init(records: [StoredRecord], requestID: UInt32, clientDictionaries: Set<UInt32>, requests: StoreRequestHandler) {
        self.records = records
        self.requestID = requestID
        self.clientDictionaries = clientDictionaries
        self.requests = requests
    }

    /// Up to `maximum` RECORD frames, then RESULT_END (returned = total = records sent) once all
    /// are out. A body that cannot be decoded ends the stream with its ERROR instead.
    mutating func nextFrames(maximum: Int) -> [Frame] {
        guard !isFinished else { return [] }
        var frames: [Frame] = []
        let end = min(records.count, next + maximum)
        while next < end {
            do {
                let wire = try requests.wireRecord(records[next], clientDictionaries)
                frames.append(ServerMessage.record(wire).frame(requestID: requestID, flags: .streamContinues))
            } catch {
                isFinished = true
                return frames + StoreRequestHandler.refusal(error, requestID: requestID)
            }
            next += 1
        }
        if next == records.count {
            isFinished = true
            frames.append(ServerMessage.resultEnd(returned: UInt32(clamping: records.count), total: UInt32(clamping: records.count))
                .frame(requestID: requestID))
        }
        return frames
    }
}

/// An answer sent a chunk at a time (EXPORT, BACKUP), or a refusal sent at once in its place.
enum ResponseStream {
    case export(ExportStream)
    /// A BACKUP whose point in time is fixed and whose index snapshot is being written off the
    /// event loop (`Backup.Source.prepareSnapshot`); it becomes `.backup` once written. Sends nothing.
    case preparingBackup(Backup.Source, requestID: UInt32)
    case backup(BackupStream)
    case refused([Frame])
    case done(requestID: UInt32)

    var requestID: UInt32 {
        switch self {
        case .export(let s): return s.requestID
        case .backup(let s): return s.requestID
        case .preparingBackup(_, let requestID): return requestID
        case .refused(let frames): return frames.first?.requestID ?? 0
        case .done(let id): return id
        }
    }

    var isFinished: Bool {
        switch self {
        case .export(let s): return s.isFinished
        case .backup(let s): return s.isFinished
        case .preparingBackup, .refused: return false
        case .done: return true
        }
    }

    mutating func nextFrames(maximum: Int) -> [Frame] {
        switch self {
        case .export(var s):
            defer { self = .export(s) }
            return s.nextFrames(maximum: maximum)
        case .backup(var s):
            defer { self = .backup(s) }
            // Backup chunks are 256 KiB: four per turn of the loop is 1 MiB.
            return s.nextFrames(maximum: min(maximum, 4))
        case .preparingBackup:
            return []
        case .refused(let frames):
            self = .done(requestID: requestID)
            return frames
        case .done:
            return []
        }
    }
}
