import EpilogueModel
import NIOCore

/// HELLO: the client's first frame.
public struct Hello: Sendable, Equatable {
    /// Versions the client speaks, in order of preference.
    public var versions: [UInt16]
    public var clientName: String
    /// Preset-dictionary ids the client can inflate; the server sends a record compressed only
    /// when its dictionary is in this list, or when the list holds `anyDictionary`.
    public var dictionaries: [UInt32]

    /// In `dictionaries`: the client takes bodies made with any dictionary the store has or will
    /// train, fetching one it lacks with GET_DICTIONARY (PROTOCOL.md §2.4). An older store sees an
    /// unknown id and ignores it.
    public static let anyDictionary: UInt32 = 0xFFFF_FFFF

    public init(versions: [UInt16] = [WireProtocol.version], clientName: String, dictionaries: [UInt32] = []) {
        self.versions = versions
        self.clientName = clientName
        self.dictionaries = dictionaries
    }
}

/// CHALLENGE: the server's answer to HELLO — the chosen version and a fresh nonce.
public struct Challenge: Sendable, Equatable {
    public var version: UInt16
    public var nonce: [UInt8]
    public var authRequired: Bool
    public var serverName: String

    public init(version: UInt16, nonce: [UInt8], authRequired: Bool, serverName: String) {
        self.version = version
        self.nonce = nonce
        self.authRequired = authRequired
        self.serverName = serverName
    }
}

/// READY: handshake complete; requests may follow.
public struct Ready: Sendable, Equatable {
    public var maximumFrameSize: UInt32
    /// Preset dictionaries the server can hand out with GET_DICTIONARY, ascending. Appended to
    /// READY after its first release: a 4-byte READY (an older store) means none.
    public var dictionaries: [UInt32]

    public init(maximumFrameSize: UInt32, dictionaries: [UInt32] = []) {
        self.maximumFrameSize = maximumFrameSize
        self.dictionaries = dictionaries
    }
}

/// A record on the wire. The body is `RecordContent` in its binary form (see `RecordBody`),
/// possibly compressed — the store forwards what it has on disk so it never inflates on reads;
/// the gateway inflates.
public struct WireRecord: Sendable, Equatable {
    public var id: String
    public var version: UInt64
    public var updatedAt: Int64
    public var encoding: BodyEncoding
    /// Preset dictionary id for `.zlib` bodies; 0 means none.
    public var dictionaryID: UInt32
    public var body: ByteBuffer

    public init(id: String, version: UInt64, updatedAt: Int64, encoding: BodyEncoding, dictionaryID: UInt32, body: ByteBuffer) {
        self.id = id
        self.version = version
        self.updatedAt = updatedAt
        self.encoding = encoding
        self.dictionaryID = dictionaryID
        self.body = body
    }
}

/// TRACK's mode (PROTOCOL.md, "Tracking"): which changes the store pushes to the connection.
public enum TrackingMode: UInt8, Sendable, Equatable {
    /// No pushes (the default of every connection).
    case off = 0
    /// An INVALIDATE for every record any client changes, whether or not this connection read it.
    case broadcast = 1
}

public struct StatEntry: Sendable, Equatable {
    public var name: String
    public var value: Int64

    public init(name: String, value: Int64) {
        self.name = name
        self.value = value
    }
}

/// Everything a client may send.
public enum ClientMessage: Sendable, Equatable {
    case hello(Hello)
    case authenticate(proof: [UInt8])
    case ping(ByteBuffer)
    case get(id: String)
    case put(id: String, content: RecordContent, expectedVersion: UInt64?)
    case delete(id: String, expectedVersion: UInt64?)
    case query(RecordFilter, limit: UInt32, offset: UInt32)
    /// `offset` and `fuzzy` are optional trailing fields, sent only when not 0/false (PROTOCOL.md).
    case search(text: String, RecordFilter, limit: UInt32, offset: UInt32 = 0, fuzzy: Bool = false)
    case listFilms
    case listThemes(film: String?)
    case stats
    case getDictionary(id: UInt32)
    /// Every record matching the filter as of one moment, ordered by id, streamed as RECORD frames
    /// (STREAM_CONTINUES) and a final RESULT_END.
    case export(RecordFilter)
    /// A batch of records applied all or nothing, made durable together (one fsync), answered IMPORTED.
    case `import`(ImportExisting, [ImportItem])
    /// A consistent copy of the data files, streamed as BACKUP_CHUNK frames and a BACKUP_END.
    case backup
    /// Asks for INVALIDATE pushes on this connection (or stops them), answered TRACKING.
    case track(TrackingMode)

    public var type: MessageType {
        switch self {
        case .hello: return .hello
        case .authenticate: return .authenticate
        case .ping: return .ping
        case .get: return .get
        case .put: return .put
        case .delete: return .delete
        case .query: return .query
        case .search: return .search
        case .listFilms: return .listFilms
        case .listThemes: return .listThemes
        case .stats: return .stats
        case .getDictionary: return .getDictionary
        case .export: return .export
        case .import: return .import
        case .backup: return .backup
        case .track: return .track
        }
    }
}

/// Everything a server may send.
public enum ServerMessage: Sendable, Equatable {
    case challenge(Challenge)
    case ready(Ready)
    case pong(ByteBuffer)
    case record(WireRecord)
    case written(id: String, version: UInt64, updatedAt: Int64)
    case deleted(id: String, version: UInt64)
    case hit(SearchHit)
    /// `suggestions`: SEARCH's "did you mean" words when nothing matched; an optional trailing
    /// list, absent when empty (PROTOCOL.md).
    case resultEnd(returned: UInt32, total: UInt32, suggestions: [String] = [])
    case films([FilmSummary])
    case themes([ThemeCount])
    case stats([StatEntry])
    case dictionary(id: UInt32, bytes: [UInt8])
    /// IMPORT's answer once the batch is durable: records written, items skipped (existing ids),
    /// and how many of those written replaced a live record.
    case imported(written: UInt32, skipped: UInt32, replaced: UInt32)
    /// `data` belongs at `offset` of the backup's file `file`.
    case backupChunk(file: String, offset: UInt64, data: ByteBuffer)
    /// The backup's files, whole: lengths and checksums.
    case backupEnd([BackupFile])
    /// TRACK's answer: the mode now in force on the connection.
    case tracking(TrackingMode)
    /// Pushed with request id 0 to a tracking connection: these records changed (written,
    /// deleted, imported) and durable. An empty list means every record: drop everything cached.
    case invalidate(ids: [String])
    case error(code: ErrorCode, message: String)
    /// ERROR VERSION_UNSUPPORTED, which also lists the versions the server speaks (as data, so a
    /// newer client can pick one and reconnect).
    case versionUnsupported(serverVersions: [UInt16], message: String)

    /// The code of an ERROR frame, whichever case carries it.
    public var errorCode: ErrorCode? {
        switch self {
        case .error(let code, _): return code
        case .versionUnsupported: return .versionUnsupported
        default: return nil
        }
    }

    public var type: MessageType {
        switch self {
        case .challenge: return .challenge
        case .ready: return .ready
        case .pong: return .pong
        case .record: return .record
        case .written: return .written
        case .deleted: return .deleted
        case .hit: return .hit
        case .resultEnd: return .resultEnd
        case .films: return .films
        case .themes: return .themes
        case .stats: return .statsResult
        case .dictionary: return .dictionary
        case .imported: return .imported
        case .backupChunk: return .backupChunk
        case .backupEnd: return .backupEnd
        case .tracking: return .tracking
        case .invalidate: return .invalidate
        case .error, .versionUnsupported: return .error
        }
    }
}
