import EpilogueProtocol
import EpilogueShared
import NIOCore

/// What the store keeps in memory per record: the compressed body as it sits on disk plus the
/// few fields that filters, FILMS and THEMES need without inflating anything. Those fields live
/// in a shared `Facets`, so a million records cost one pointer each for them, not six strings.
struct StoredRecord: Sendable {
    var id: String
    var body: [UInt8]
    var version: UInt64
    var updatedAt: Int64
    var facets: Facets
    var docID: UInt32
    var dictionaryID: UInt32
    var rawLength: UInt32
    var logBytes: UInt32

    /// A record read from the log but not yet indexed: `docID` holds its position in the log.
    init(pending entry: LogEntry, order: UInt32, logBytes: Int) {
        self.init(id: entry.id, body: entry.body, version: entry.version, updatedAt: entry.updatedAt, facets: .unknown,
                  docID: order, dictionaryID: entry.dictionaryID, rawLength: entry.rawLength, logBytes: UInt32(logBytes))
    }

    init(id: String, body: [UInt8], version: UInt64, updatedAt: Int64, facets: Facets, docID: UInt32, dictionaryID: UInt32,
         rawLength: UInt32, logBytes: UInt32) {
        self.id = id
        self.body = body
        self.version = version
        self.updatedAt = updatedAt
        self.facets = facets
        self.docID = docID
        self.dictionaryID = dictionaryID
        self.rawLength = rawLength
        self.logBytes = logBytes
    }

    var film: String { facets.film }
    var year: Int { facets.year }
    var director: String { facets.director }
    var subject: String { facets.subject }
    var sourceKind: SourceKind { facets.sourceKind }
    var themes: [String] { facets.themes }

    func matches(_ filter: RecordFilter) -> Bool {
        if let film = filter.film, film != self.film { return false }
        if let subject = filter.subject, subject != self.subject { return false }
        if let kind = filter.sourceKind, kind != sourceKind { return false }
        if let theme = filter.theme, !themes.contains(theme) { return false }
        return true
    }

    func content(_ dictionaries: DictionarySet) throws -> RecordContent {
        let raw = try dictionaries.decompress(body, dictionaryID: dictionaryID)
        return try RecordBody.decode(ByteBuffer(bytes: raw))
    }

    var wireRecord: WireRecord {
        // Trained dictionaries' bodies are raw deflate on disk (see DictionarySet.isRawDeflate).
        WireRecord(id: id, version: version, updatedAt: updatedAt,
                   encoding: dictionaryID >= DictionarySet.firstTrainedID ? .deflate : .zlib, dictionaryID: dictionaryID,
                   body: ByteBuffer(bytes: body))
    }
}

/// A record's filterable fields. Records with equal ones share one instance (`FacetTable`):
/// a corpus has few films, subjects and theme sets, however many records it holds.
final class Facets: Sendable, Hashable {
    let film: String
    let year: Int
    let director: String
    let subject: String
    let sourceKind: SourceKind
    let themes: [String]

    init(film: String, year: Int, director: String, subject: String, sourceKind: SourceKind, themes: [String]) {
        self.film = film
        self.year = year
        self.director = director
        self.subject = subject
        self.sourceKind = sourceKind
        self.themes = themes
    }

    /// Placeholder of a record read from the log and not yet indexed.
    static let unknown = Facets(film: "", year: 0, director: "", subject: "", sourceKind: .critic, themes: [])

    convenience init(_ content: RecordContent) {
        self.init(film: content.film, year: content.year, director: content.director, subject: content.subject,
                  sourceKind: content.sourceKind, themes: content.themes)
    }

    static func == (a: Facets, b: Facets) -> Bool {
        a.film == b.film && a.year == b.year && a.director == b.director && a.subject == b.subject
            && a.sourceKind == b.sourceKind && a.themes == b.themes
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(film)
        hasher.combine(year)
        hasher.combine(director)
        hasher.combine(subject)
        hasher.combine(sourceKind)
        hasher.combine(themes)
    }
}

/// Interns `Facets`. Entries are never dropped: the table grows with the number of distinct
/// combinations ever written, which real data keeps small.
struct FacetTable: Sendable {
    private(set) var all: Set<Facets> = []

    mutating func intern(_ facets: Facets) -> Facets {
        all.insert(facets).memberAfterInsert
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

    /// Adds many records that share `facets` at once (start-up): one lookup per field value
    /// instead of one per record.
    mutating func insert(_ docIDs: [UInt32], sharing facets: Facets) {
        guard !docIDs.isEmpty else { return }
        byFilm[facets.film, default: []].formUnion(docIDs)
        bySubject[facets.subject, default: []].formUnion(docIDs)
        bySourceKind[facets.sourceKind, default: []].formUnion(docIDs)
        for theme in facets.themes { byTheme[theme, default: []].formUnion(docIDs) }
    }

    mutating func remove(_ record: StoredRecord) {
        Self.remove(record.docID, key: record.film, from: &byFilm)
        Self.remove(record.docID, key: record.subject, from: &bySubject)
        Self.remove(record.docID, key: record.sourceKind, from: &bySourceKind)
        for theme in record.themes { Self.remove(record.docID, key: theme, from: &byTheme) }
    }

    /// Doc ids matching every filter: the smallest posting set, each member checked against the
    /// others (integer lookups, no record touched). Nil when no filter is set.
    func matches(for filter: RecordFilter) -> [UInt32]? {
        var sets = postings(for: filter)
        guard let smallest = sets.indices.min(by: { sets[$0].count < sets[$1].count }) else { return nil }
        let base = sets.remove(at: smallest)
        if sets.isEmpty { return Array(base) }
        return base.filter { docID in sets.allSatisfy { $0.contains(docID) } }
    }

    private func postings(for filter: RecordFilter) -> [Set<UInt32>] {
        var sets: [Set<UInt32>] = []
        if let film = filter.film { sets.append(byFilm[film] ?? []) }
        if let theme = filter.theme { sets.append(byTheme[theme] ?? []) }
        if let kind = filter.sourceKind { sets.append(bySourceKind[kind] ?? []) }
        if let subject = filter.subject { sets.append(bySubject[subject] ?? []) }
        return sets
    }

    private static func remove<K: Hashable>(_ docID: UInt32, key: K, from index: inout [K: Set<UInt32>]) {
        index[key]?.remove(docID)
        if index[key]?.isEmpty == true { index[key] = nil }
    }
}
