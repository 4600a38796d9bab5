import EpilogueProtocol
import EpilogueShared
import NIOCore

/// What the store keeps in memory per record: the compressed body as it sits on disk plus the
/// few fields that filters, FILMS and THEMES need without inflating anything.
struct StoredRecord: Sendable {
    var id: String
    var docID: UInt32
    var version: UInt64
    var updatedAt: Int64
    var dictionaryID: UInt32
    var body: [UInt8]
    var rawLength: UInt32
    var logBytes: Int
    var film: String
    var year: Int
    var director: String
    var subject: String
    var sourceKind: SourceKind
    var themes: [String]

    func matches(_ filter: RecordFilter) -> Bool {
        if let film = filter.film, film != self.film { return false }
        if let subject = filter.subject, subject != self.subject { return false }
        if let kind = filter.sourceKind, kind != sourceKind { return false }
        if let theme = filter.theme, !themes.contains(theme) { return false }
        return true
    }

    func content() throws -> RecordContent {
        let raw = try BodyCompression.decompress(body, dictionaryID: dictionaryID)
        return try RecordBody.decode(ByteBuffer(bytes: raw))
    }

    var wireRecord: WireRecord {
        WireRecord(id: id, version: version, updatedAt: updatedAt, encoding: .zlib, dictionaryID: dictionaryID,
                   body: ByteBuffer(bytes: body))
    }
}

/// Secondary indexes: exact-match postings for each filterable field.
struct FieldIndexes: Sendable {
    private(set) var byFilm: [String: Set<UInt32>] = [:]
    private(set) var byTheme: [String: Set<UInt32>] = [:]
    private(set) var bySourceKind: [SourceKind: Set<UInt32>] = [:]
    private(set) var bySubject: [String: Set<UInt32>] = [:]

    mutating func insert(_ record: StoredRecord) {
        byFilm[record.film, default: []].insert(record.docID)
        bySubject[record.subject, default: []].insert(record.docID)
        bySourceKind[record.sourceKind, default: []].insert(record.docID)
        for theme in record.themes { byTheme[theme, default: []].insert(record.docID) }
    }

    mutating func remove(_ record: StoredRecord) {
        Self.remove(record.docID, key: record.film, from: &byFilm)
        Self.remove(record.docID, key: record.subject, from: &bySubject)
        Self.remove(record.docID, key: record.sourceKind, from: &bySourceKind)
        for theme in record.themes { Self.remove(record.docID, key: theme, from: &byTheme) }
    }

    /// The smallest posting set that every match must be in, or nil when no filter is set.
    func candidates(for filter: RecordFilter) -> Set<UInt32>? {
        var sets: [Set<UInt32>] = []
        if let film = filter.film { sets.append(byFilm[film] ?? []) }
        if let theme = filter.theme { sets.append(byTheme[theme] ?? []) }
        if let kind = filter.sourceKind { sets.append(bySourceKind[kind] ?? []) }
        if let subject = filter.subject { sets.append(bySubject[subject] ?? []) }
        return sets.min { $0.count < $1.count }
    }

    private static func remove<K: Hashable>(_ docID: UInt32, key: K, from index: inout [K: Set<UInt32>]) {
        index[key]?.remove(docID)
        if index[key]?.isEmpty == true { index[key] = nil }
    }
}
