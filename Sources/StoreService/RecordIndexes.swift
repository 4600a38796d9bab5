import EpilogueModel
import EpilogueCompression

/// What the store keeps in memory per record: where its compressed body is in the log (the body
/// itself stays on disk: at a million records the bodies are most of the data) plus the few
/// fields that filters, FILMS and THEMES need without reading anything. Those fields live in a
/// shared `Facets`, so a million records cost one pointer each for them, not six strings.
public struct StoredRecord: Sendable {
    public var id: String
    /// Compressed as `dictionaryID` says (see `DictionarySet`), exactly as in the log.
    var body: LogBody
    public var version: UInt64
    public var updatedAt: Int64
    var facets: Facets
    var docID: UInt32
    public var dictionaryID: UInt32
    /// The body's length once inflated.
    public var rawLength: UInt32
    var logBytes: UInt32

    /// A record read from the log but not yet indexed (recovery only): `docID` holds its position
    /// in the log (entries counted from 1) until `IndexRecovery` numbers it.
    init(pending entry: LogEntry, logPosition: UInt32, at body: LogBody, logBytes: Int) {
        self.init(id: entry.id, body: body, version: entry.version, updatedAt: entry.updatedAt, facets: .unknown,
                  docID: logPosition, dictionaryID: entry.dictionaryID, rawLength: entry.rawLength, logBytes: UInt32(logBytes))
    }

    init(id: String, body: LogBody, version: UInt64, updatedAt: Int64, facets: Facets, docID: UInt32, dictionaryID: UInt32,
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

    /// The compressed body as stored, read from the log (a `pread`; no lock needed).
    public func storedBody() throws(StoreError) -> [UInt8] {
        do { return try body.read() } catch { throw .storage(StorageError(error, operation: "read", path: body.file.path)) }
    }

    public var film: String { facets.film }
    public var year: Int { facets.year }
    public var director: String { facets.director }
    public var subject: String { facets.subject }
    public var sourceKind: SourceKind { facets.sourceKind }
    public var themes: [String] { facets.themes }

    /// Whether the record passes `filter`, which must be `folded` (callers fold it once per
    /// request, not once per record).
    func matches(_ filter: RecordFilter) -> Bool {
        if let film = filter.film, film != facets.filmKey { return false }
        if let subject = filter.subject, subject != facets.subjectKey { return false }
        if let kind = filter.sourceKind, kind != sourceKind { return false }
        if let theme = filter.theme, !themes.contains(theme) { return false }
        return true
    }

    public func content(_ dictionaries: DictionarySet) throws -> RecordContent {
        try content(inflating: try body.read(), dictionaries)
    }

    /// The content of `stored`, this record's body as `storedBody()` read it.
    func content(inflating stored: [UInt8], _ dictionaries: DictionarySet) throws -> RecordContent {
        try RecordBody.content(of: try dictionaries.decompress(stored, dictionaryID: dictionaryID))
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
    /// `film` and `subject` as filters compare them (`FilterKey.fold`).
    let filmKey: String
    let subjectKey: String

    init(film: String, year: Int, director: String, subject: String, sourceKind: SourceKind, themes: [String]) {
        self.filmKey = FilterKey.fold(film)
        self.subjectKey = FilterKey.fold(subject)
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

/// How filters compare film, subject and theme: case-insensitively (Unicode lower-casing, so
/// `la la land` finds `La La Land` and `ÉTÉ` finds `été`), diacritics and spaces kept.
enum FilterKey {
    static func fold(_ text: String) -> String { text.lowercased() }
}

extension RecordFilter {
    /// The filter with its text folded as `FilterKey` says; what `matches` expects.
    var folded: RecordFilter {
        RecordFilter(film: film.map(FilterKey.fold), theme: theme.map(FilterKey.fold), sourceKind: sourceKind,
                     subject: subject.map(FilterKey.fold))
    }
}

/// Secondary indexes: postings for each filterable field, keyed by the stored spelling (FILMS
/// shows titles as written), with the spellings of each folded key so filters ignore case.
struct FieldIndexes: Sendable {
    private(set) var byFilm: [String: Set<UInt32>] = [:]
    private(set) var byTheme: [String: Set<UInt32>] = [:]
    private(set) var bySourceKind: [SourceKind: Set<UInt32>] = [:]
    private(set) var bySubject: [String: Set<UInt32>] = [:]
    /// Folded title or subject → the spellings stored under it (nearly always one).
    private var filmSpellings: [String: Set<String>] = [:]
    private var subjectSpellings: [String: Set<String>] = [:]

    mutating func insert(_ record: StoredRecord) {
        noteSpellings(record.facets)
        byFilm[record.film, default: []].insert(record.docID)
        bySubject[record.subject, default: []].insert(record.docID)
        bySourceKind[record.sourceKind, default: []].insert(record.docID)
        for theme in record.themes { byTheme[theme, default: []].insert(record.docID) }
    }

    init() {}

    /// The indexes of records grouped by the facets they share (start-up, from the index
    /// snapshot): each posting set is made once at its final size, so none grows by rehashing.
    init(_ groups: [(facets: Facets, docIDs: [UInt32])]) {
        var films: [String: Int] = [:], subjects: [String: Int] = [:], kinds: [SourceKind: Int] = [:], themes: [String: Int] = [:]
        for (facets, docIDs) in groups where !docIDs.isEmpty {
            films[facets.film, default: 0] += docIDs.count
            subjects[facets.subject, default: 0] += docIDs.count
            kinds[facets.sourceKind, default: 0] += docIDs.count
            for theme in facets.themes { themes[theme, default: 0] += docIDs.count }
        }
        byFilm = films.mapValues { Set(minimumCapacity: $0) }
        bySubject = subjects.mapValues { Set(minimumCapacity: $0) }
        bySourceKind = kinds.mapValues { Set(minimumCapacity: $0) }
        byTheme = themes.mapValues { Set(minimumCapacity: $0) }
        for (facets, docIDs) in groups where !docIDs.isEmpty {
            noteSpellings(facets)
            byFilm[facets.film]!.formUnion(docIDs)
            bySubject[facets.subject]!.formUnion(docIDs)
            bySourceKind[facets.sourceKind]!.formUnion(docIDs)
            for theme in facets.themes { byTheme[theme]!.formUnion(docIDs) }
        }
    }

    private mutating func noteSpellings(_ facets: Facets) {
        filmSpellings[facets.filmKey, default: []].insert(facets.film)
        subjectSpellings[facets.subjectKey, default: []].insert(facets.subject)
    }

    mutating func remove(_ record: StoredRecord) {
        Self.remove(record.docID, key: record.film, from: &byFilm)
        Self.remove(record.docID, key: record.subject, from: &bySubject)
        if byFilm[record.film] == nil { Self.forget(record.film, under: record.facets.filmKey, in: &filmSpellings) }
        if bySubject[record.subject] == nil { Self.forget(record.subject, under: record.facets.subjectKey, in: &subjectSpellings) }
        Self.remove(record.docID, key: record.sourceKind, from: &bySourceKind)
        for theme in record.themes { Self.remove(record.docID, key: theme, from: &byTheme) }
    }

    /// Records of `film` under any spelling that folds alike (`folded` is `FilterKey.fold`ed).
    func docs(ofFilm folded: String) -> Set<UInt32> {
        Self.union(folded, spellings: filmSpellings, postings: byFilm)
    }

    private static func union(_ folded: String, spellings: [String: Set<String>], postings: [String: Set<UInt32>]) -> Set<UInt32> {
        guard let names = spellings[folded] else { return [] }
        if names.count == 1, let only = names.first { return postings[only] ?? [] }
        return names.reduce(into: Set<UInt32>()) { $0.formUnion(postings[$1] ?? []) }
    }

    private static func forget(_ spelling: String, under folded: String, in spellings: inout [String: Set<String>]) {
        spellings[folded]?.remove(spelling)
        if spellings[folded]?.isEmpty == true { spellings[folded] = nil }
    }

    /// Doc ids matching every filter (which must be `folded`): the smallest posting set, each
    /// member checked against the others (integer lookups, no record touched). Nil when no
    /// filter is set.
    func matches(for filter: RecordFilter) -> [UInt32]? {
        var sets = postings(for: filter)
        guard let smallest = sets.indices.min(by: { sets[$0].count < sets[$1].count }) else { return nil }
        let base = sets.remove(at: smallest)
        if sets.isEmpty { return Array(base) }
        return base.filter { docID in sets.allSatisfy { $0.contains(docID) } }
    }

    private func postings(for filter: RecordFilter) -> [Set<UInt32>] {
        var sets: [Set<UInt32>] = []
        if let film = filter.film { sets.append(docs(ofFilm: film)) }
        // Themes are stored lower-case (validation), so the folded filter looks them up directly.
        if let theme = filter.theme { sets.append(byTheme[theme] ?? []) }
        if let kind = filter.sourceKind { sets.append(bySourceKind[kind] ?? []) }
        if let subject = filter.subject { sets.append(Self.union(subject, spellings: subjectSpellings, postings: bySubject)) }
        return sets
    }

    private static func remove<K: Hashable>(_ docID: UInt32, key: K, from index: inout [K: Set<UInt32>]) {
        index[key]?.remove(docID)
        if index[key]?.isEmpty == true { index[key] = nil }
    }
}
