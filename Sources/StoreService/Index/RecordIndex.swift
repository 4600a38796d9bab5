import EpilogueCompression
import EpilogueModel
import EpilogueShared
import Logging

/// The store's records in memory and every index over them, as one value: live records,
/// tombstones, the field indexes (filters, FILMS, THEMES), the search index and byte counts.
///
/// Pure: applying a log entry or answering a read touches no file, lock or clock, so it is tested
/// without a log or a disk. `RecordStore` keeps one behind its lock; recovery builds one
/// (`IndexRecovery`); `IndexSnapshotWriter` saves a copy of one.
struct RecordIndex: Sendable {
    /// What a delete leaves: the version it deleted, so the id's next PUT continues from it
    /// (versions never repeat, so compare-and-set can't be fooled by DELETE + PUT), kept through
    /// compaction as a delete entry (`logBytes` of it) and rebuilt from the log at start.
    struct Tombstone: Sendable, Equatable {
        var version: UInt64
        var updatedAt: Int64
        var logBytes: UInt32
    }

    /// The dictionaries record bodies are compressed with (to inflate a replaced body).
    let dictionaries: DictionarySet
    var records: [String: StoredRecord] = [:]
    /// Deleted ids not written since: their last version.
    var tombstones: [String: Tombstone] = [:]
    var idByDocID: [UInt32: String] = [:]
    var nextDocID: UInt32 = 1
    var fields = FieldIndexes()
    var facets = FacetTable()
    var search = SearchIndex()
    var rawBytes = 0
    var storedBytes = 0
    /// Log bytes of live records and tombstones: what a compaction would keep (header excluded).
    var liveLogBytes = 0

    init(dictionaries: DictionarySet) {
        self.dictionaries = dictionaries
    }

    /// The searchable columns of a record, in SEARCH's column order.
    static func searchFields(_ content: RecordContent) -> [String] {
        [content.film, content.subject, content.reading, content.source]
    }

    /// Adds an already-numbered record to the id and field indexes and the byte counts.
    mutating func index(_ record: StoredRecord) {
        fields.insert(record)
        count(record)
    }

    /// `index` without the field indexes (filled in bulk by the caller).
    mutating func count(_ record: StoredRecord) {
        idByDocID[record.docID] = record.id
        rawBytes += Int(record.rawLength)
        storedBytes += Int(record.body.count)
        liveLogBytes += Int(record.logBytes)
    }

    // MARK: Applying log entries

    /// Applies a log entry of `size` bytes written at `offset` of `file` (where its body is read
    /// from from now on). `content` spares inflating a body we were just given.
    /// `analyzed` and `replaced` are the new version's terms and the replaced version's, when the
    /// caller computed them outside the lock; `replaced` is used only if it is still the version
    /// being replaced (another write may have come in between).
    mutating func apply(_ entry: LogEntry, size: Int, at offset: Int, in file: LogFile, content given: RecordContent? = nil,
                        analyzed: SearchIndex.AnalyzedDocument? = nil,
                        replaced: (docID: UInt32, terms: SearchIndex.AnalyzedDocument)? = nil, logger: Logger) {
        if let tombstone = tombstones.removeValue(forKey: entry.id) { liveLogBytes -= Int(tombstone.logBytes) }
        if entry.kind == .delete {
            tombstones[entry.id] = Tombstone(version: entry.version, updatedAt: entry.updatedAt, logBytes: UInt32(size))
            liveLogBytes += size
        }
        if let old = records.removeValue(forKey: entry.id) {
            // The index keeps no per-document term lists: the old body says which terms to drop.
            if let replaced, replaced.docID == old.docID {
                search.remove(docID: old.docID, analyzed: replaced.terms)
            } else if let oldContent = try? old.content(dictionaries) {
                search.remove(docID: old.docID, fields: Self.searchFields(oldContent))
            } else {
                logger.error("cannot inflate a replaced record to unindex it", metadata: ["id": "\(old.id)"])
                search.remove(docID: old.docID, fields: [])
            }
            idByDocID[old.docID] = nil
            fields.remove(old)
            rawBytes -= Int(old.rawLength)
            storedBytes -= Int(old.body.count)
            liveLogBytes -= Int(old.logBytes)
            if entry.kind == .delete { return }
        }
        guard entry.kind == .put else { return }
        let content: RecordContent
        if let given {
            content = given
        } else {
            do {
                let raw = try dictionaries.decompress(entry.body, dictionaryID: entry.dictionaryID)
                content = try RecordBody.content(of: raw)
            } catch {
                // The checksum passed, so this is a bug or an unknown dictionary; keep going without it.
                logger.error("skipping undecodable record body", metadata: ["id": "\(entry.id)", "error": "\(error)"])
                return
            }
        }
        // Every write takes a fresh doc id (the search index keeps its postings sorted that way).
        let docID = nextDocID
        nextDocID += 1
        let record = StoredRecord(id: entry.id, body: LogBody(file: file, entry: entry, at: offset, size: size), version: entry.version, updatedAt: entry.updatedAt,
                                  facets: facets.intern(Facets(content)), docID: docID,
                                  dictionaryID: entry.dictionaryID, rawLength: entry.rawLength, logBytes: UInt32(size))
        records[entry.id] = record
        idByDocID[docID] = entry.id
        fields.insert(record)
        if let analyzed {
            search.upsert(docID: docID, analyzed: analyzed)
        } else {
            search.upsert(docID: docID, fields: Self.searchFields(content))
        }
        rawBytes += Int(entry.rawLength)
        storedBytes += entry.body.count
        liveLogBytes += size
    }

    /// Where a compaction wrote a record it copied: its body in the new file, and the dictionary
    /// it re-compressed the body with (or the one it had).
    struct Relocation: Sendable {
        var offset: UInt64
        var count: UInt32
        var dictionaryID: UInt32
        var logBytes: UInt32
    }

    /// Moves every record to `file`, a compaction's new log: those it copied (by doc id, in
    /// `moved`) to where it wrote them, those appended to the old log from `tailStart` on (carried
    /// over at the end of the new file) by `tailShift` bytes. A record copied and then replaced
    /// has a new doc id, so it is found among the tail instead.
    mutating func relocate(to file: LogFile, moved: [UInt32: Relocation], tailStart: Int, tailShift: Int) {
        for position in records.indices {
            let record = records.values[position]
            var body = record.body
            body.file = file
            if let relocation = moved[record.docID], Int(record.body.offset) < tailStart {
                storedBytes += Int(relocation.count) - Int(body.count)
                liveLogBytes += Int(relocation.logBytes) - Int(record.logBytes)
                body.offset = relocation.offset
                body.count = relocation.count
                records.values[position].dictionaryID = relocation.dictionaryID
                records.values[position].logBytes = relocation.logBytes
            } else {
                body.offset = UInt64(Int(body.offset) + tailShift)
            }
            records.values[position].body = body
        }
    }

    // MARK: Reads

    /// Records matching `filter` (which must be `folded`), ordered by id.
    func query(_ filter: RecordFilter, limit: Int, offset: Int) -> (records: [StoredRecord], total: Int) {
        // Only the first offset+limit ids in id order are needed: select them in one pass
        // instead of sorting every match (a film holds a sixth of a large corpus).
        var first = FirstInOrder(count: offset + limit)
        let total: Int
        if let matches = fields.matches(for: filter) {
            total = matches.count
            for docID in matches { if let id = idByDocID[docID] { first.offer(id) } }
        } else {
            total = records.count
            for id in records.keys { first.offer(id) }
        }
        return (first.smallest.dropFirst(offset).compactMap { records[$0] }, total)
    }

    /// Every live record matching `filter` (which must be `folded`), in no order.
    func matching(_ filter: RecordFilter) -> [StoredRecord] {
        guard let matches = fields.matches(for: filter) else { return Array(records.values) }
        return matches.compactMap { idByDocID[$0].flatMap { records[$0] } }
    }

    /// What a search found, before snippets: the page's records with their scores, the number of
    /// all matches, and for each unknown query word its closest known stem with a record holding it.
    struct SearchMatches: Sendable {
        /// The query as run: with the suggested terms in place of unknown words after a fuzzy retry.
        var query: SearchQuery
        var hits: [(record: StoredRecord, score: Double)]
        var total: Int
        var suggested: [(stem: String, example: StoredRecord?)]
    }

    /// Hits `offset ..< offset + limit` of `query` within `filter` (which must be `folded`), best
    /// first. When nothing matches, `suggested` has the closest known term for each unknown word;
    /// with `fuzzy`, the query is then run again with those terms in place of the unknown words.
    func find(_ query: SearchQuery, filter: RecordFilter, limit: Int, offset: Int, fuzzy: Bool) -> SearchMatches {
        var query = query
        let include: ((UInt32) -> Bool)? = filter.isEmpty ? nil : { docID in
            idByDocID[docID].flatMap { records[$0] }?.matches(filter) ?? false
        }
        var page = search.search(query, limit: limit, offset: offset, where: include)
        // Nothing matched: for each word the index does not know, its closest known term,
        // with a record holding it (to show the word as written, not its stem).
        var suggested: [(stem: String, example: StoredRecord?)] = []
        var corrections: [String: String] = [:]
        if page.total == 0 {
            for phrase in query.phrases where !phrase.prefix {
                for term in phrase.terms where (search.termIDs[term].map { search.postings[$0].live == 0 } ?? true) {
                    guard let best = search.suggester.suggestions(for: term, in: search, limit: 1).first else { continue }
                    let example = search.firstLiveDocument(termID: best.id).flatMap { idByDocID[$0] }.flatMap { records[$0] }
                    suggested.append((best.term, example))
                    corrections[term] = best.term
                }
            }
        }
        if fuzzy && !corrections.isEmpty {
            query = query.replacing(corrections)
            page = search.search(query, limit: limit, offset: offset, where: include)
        }
        let hits = page.hits.compactMap { hit in
            idByDocID[hit.docID].flatMap { records[$0] }.map { (record: $0, score: hit.score) }
        }
        return SearchMatches(query: query, hits: hits, total: page.total, suggested: suggested)
    }

    /// One row per film in UTF-8 byte order of the title. Records of one film may disagree on
    /// year or director: the most recently written one (highest doc id) speaks for the film.
    func films() -> [FilmSummary] {
        fields.byFilm.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.compactMap { film in
            guard let docs = fields.byFilm[film], let latest = docs.max(),
                  let sample = idByDocID[latest].flatMap({ records[$0] }) else { return nil }
            return FilmSummary(film: film, year: UInt16(clamping: sample.year), director: sample.director,
                               records: UInt32(docs.count))
        }
    }

    /// Themes with their record counts (of one film, when given), most common first.
    func themes(film: String?) -> [ThemeCount] {
        var counts: [String: Int] = [:]
        if let film {
            for docID in fields.docs(ofFilm: FilterKey.fold(film)) {
                for theme in idByDocID[docID].flatMap({ records[$0] })?.themes ?? [] { counts[theme, default: 0] += 1 }
            }
        } else {
            for (theme, docs) in fields.byTheme { counts[theme] = docs.count }
        }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ThemeCount(theme: $0.key, records: UInt32($0.value)) }
    }
}
