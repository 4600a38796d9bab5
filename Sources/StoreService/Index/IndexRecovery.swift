import EpilogueCompression
import EpilogueModel
import EpilogueShared
import Foundation
import Logging

/// What start-up found and did.
public struct RecoveryReport: Sendable, Equatable {
    /// Log entries read (those after the index snapshot's point included).
    public var entriesReplayed = 0
    /// Bytes of a torn or corrupt tail cut off the log, and why.
    public var discardedBytes = 0
    public var reason: String?
    public var loadedBundledDataset = 0
    /// Whether the indexes came from `index.snapshot` (plus the log after it) instead of a rebuild.
    public var usedIndexSnapshot = false
    /// Log entries past the snapshot's point, applied on top of it (0 when it covered the whole log).
    public var entriesAfterSnapshot = 0
}

/// Builds the `RecordIndex` a log describes, at start-up: from the index snapshot plus the log
/// after it when the snapshot matches the log, else by indexing every live record (inflating and
/// tokenizing on every core). Nothing else runs while it does.
enum IndexRecovery {
    struct Recovered: Sendable {
        var index: RecordIndex
        var report: RecoveryReport
        /// Whether `index.snapshot` describes exactly this index (no log entries after it).
        var snapshotIsCurrent: Bool
    }

    /// Scans `log` (cutting off a bad tail) and indexes what it holds. `directory` is where an
    /// index snapshot may be (nil: don't look, the log is new).
    static func recover(_ log: RecordLog, directory: String?, dictionaries: DictionarySet, logger: Logger) async throws -> Recovered {
        let clock = ContinuousClock()
        let started = clock.now
        // The snapshot loads in a child task (another core) while this one scans the log: the
        // scan only needs where the snapshot's part of the log ends, which its header says.
        let header = directory.flatMap { IndexSnapshot.header(in: $0) }
        async let loading = header == nil ? nil : directory.flatMap { IndexSnapshot.load(from: $0) }
        // Only each id's last entry matters: keep that and index just the survivors, so start-up
        // does not inflate and tokenize every superseded version. Until indexed, a survivor is a
        // pending `StoredRecord` (its position in the log, no facets); the same dictionary then
        // becomes the index's records (no second copy of a million records).
        var latest: [String: StoredRecord] = [:]
        latest.reserveCapacity(header?.documentCount ?? 0)
        var order: UInt32 = 0
        func note(_ entry: LogEntry, size: Int, at entryOffset: Int) {
            order += 1
            latest[entry.id] = entry.kind == .put
                ? StoredRecord(pending: entry, logPosition: order, at: LogBody(file: log.file, entry: entry, at: entryOffset, size: size),
                               logBytes: size)
                : nil
        }
        var offset = RecordLog.header.count
        // Entries after the snapshot's point are read again once it is loaded (`tail` of them).
        var snapshotEnd: Int? = header?.logSize == offset ? offset : nil
        var tail = 0
        var tombstones: [String: RecordIndex.Tombstone] = [:]
        let scan = try log.scan { entry, size, entryOffset in
            offset += size
            if entry.kind == .delete || !tombstones.isEmpty {
                tombstones[entry.id] = entry.kind == .delete
                    ? RecordIndex.Tombstone(version: entry.version, updatedAt: entry.updatedAt, logBytes: UInt32(size)) : nil
            }
            guard snapshotEnd == nil else {
                tail += 1
                return
            }
            note(entry, size: size, at: entryOffset)
            if offset == header?.logSize { snapshotEnd = offset }
        }
        let scanned = clock.now
        let snapshot = await loading
        let loaded = clock.now
        var restored: RecordIndex?
        if let snapshotEnd, let snapshot, snapshot.logSize == snapshotEnd {
            restored = await restore(snapshot, from: &latest, dictionaries: dictionaries)
        }
        if let snapshotEnd, tail > 0 {
            if restored != nil {
                try log.replay(from: snapshotEnd) { entry, size, entryOffset in
                    restored!.apply(entry, size: size, at: entryOffset, in: log.file, logger: logger)
                }
            } else {
                try log.replay(from: snapshotEnd, note)
            }
        }
        // A record whose dictionary is gone cannot be read: refuse to start rather than drop it.
        if let missing = (restored?.records ?? latest).values.first(where: { $0.dictionaryID != 0 && dictionaries.dictionary(id: $0.dictionaryID) == nil }) {
            throw StorageError.corruptDictionary(path: (directory ?? log.directory) + "/" + DictionaryFile.fileName(id: missing.dictionaryID),
                                                 reason: "missing, but record '\(missing.id)' was compressed with it")
        }
        var index: RecordIndex
        if let restored {
            index = restored
        } else {
            if snapshot != nil { logger.notice("index snapshot does not match the record log; rebuilding the indexes") }
            index = await rebuild(&latest, dictionaries: dictionaries, logger: logger)
        }
        index.tombstones = tombstones
        index.liveLogBytes = index.records.values.reduce(0) { $0 + Int($1.logBytes) } + tombstones.values.reduce(0) { $0 + Int($1.logBytes) }
        logger.info("recovered the record log", metadata: [
            "records": "\(index.records.count)", "from_snapshot": "\(restored != nil)", "tail_entries": "\(tail)",
            // snapshot_ms: how long the snapshot still took to load once the scan was done.
            "scan_ms": "\(milliseconds(scanned - started))", "snapshot_ms": "\(milliseconds(loaded - scanned))",
            "index_ms": "\(milliseconds(clock.now - loaded))",
        ])
        if scan.discardedBytes > 0 {
            logger.warning("record log had a bad tail; cut it off", metadata: [
                "discarded_bytes": "\(scan.discardedBytes)", "reason": "\(scan.reason ?? "")", "entries_kept": "\(scan.entries)",
            ])
        }
        let report = RecoveryReport(entriesReplayed: scan.entries, discardedBytes: scan.discardedBytes, reason: scan.reason,
                                    usedIndexSnapshot: restored != nil, entriesAfterSnapshot: restored != nil ? tail : 0)
        return Recovered(index: index, report: report, snapshotIsCurrent: restored != nil && tail == 0)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Indexes the survivors of a log scan (`latest`, which becomes the index's records), in log
    /// order. Inflating and tokenizing (nearly all of the work) runs in a task group, one child per
    /// core and a batch at a time; adding to the indexes stays sequential.
    private static func rebuild(_ latest: inout [String: StoredRecord], dictionaries: DictionarySet, logger: Logger) async -> RecordIndex {
        var index = RecordIndex(dictionaries: dictionaries)
        index.idByDocID.reserveCapacity(latest.count)
        let survivors = latest.values.sorted { $0.docID < $1.docID }
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        for start in stride(from: 0, to: survivors.count, by: 16_384) {
            let batch = survivors[start..<min(start + 16_384, survivors.count)]
            for part in await DecodedBatch.decode(batch, workers: workers, dictionaries: dictionaries) {
                let termIDs = part.vocabulary.map { index.search.termID($0) }
                for (survivor, document) in zip(batch[(batch.startIndex + part.offset)...], part.documents) {
                    guard let facets = document.facets, let terms = document.terms else {
                        logger.error("skipping undecodable record body", metadata: ["id": "\(survivor.id)"])
                        latest[survivor.id] = nil
                        continue
                    }
                    let docID = index.nextDocID
                    index.nextDocID += 1
                    var record = survivor
                    record.docID = docID
                    record.facets = index.facets.intern(facets)
                    latest[survivor.id] = record
                    index.index(record)
                    index.search.insert(docID: docID, terms, termIDs: terms.terms.map { termIDs[Int($0)] })
                }
            }
        }
        index.search.trimCapacity()
        index.records = latest
        latest = [:]
        return index
    }

    /// The index the snapshot describes, with bodies from the log's live records (`latest`,
    /// which becomes the index's records); nil, leaving `latest` as it was, unless those are
    /// exactly the records the snapshot lists.
    private static func restore(_ snapshot: IndexSnapshot, from latest: inout [String: StoredRecord],
                                dictionaries: DictionarySet) async -> RecordIndex? {
        guard latest.count == snapshot.documents.count, snapshot.search.documentCount == latest.count else { return nil }
        var index = RecordIndex(dictionaries: dictionaries)
        let facets = snapshot.facets.map { index.facets.intern($0) }
        // The field indexes need only the snapshot: a child task (another core) builds them
        // while this one matches the snapshot to the log and fills in the records.
        async let fields = fieldIndexes(snapshot.documents, facets: facets)
        // Doc ids follow log order, so the snapshot's records (sorted by doc id) must meet the
        // log's in increasing position: that also proves no id is listed twice.
        var previous: (docID: UInt32, position: UInt32)?
        var positions: [Dictionary<String, StoredRecord>.Index] = []
        positions.reserveCapacity(latest.count)
        for document in snapshot.documents {
            guard let position = latest.index(forKey: document.id) else { return nil }
            let logPosition = latest.values[position].docID
            guard latest.values[position].version == document.version, latest.values[position].updatedAt == document.updatedAt,
                  latest.values[position].rawLength == document.rawLength,
                  previous.map({ $0.docID < document.docID && $0.position < logPosition }) ?? true else { return nil }
            previous = (document.docID, logPosition)
            positions.append(position)
        }
        index.idByDocID.reserveCapacity(latest.count)
        // Updating values in place keeps the positions valid: one hash lookup per record in all.
        for (document, position) in zip(snapshot.documents, positions) {
            latest.values[position].docID = document.docID
            latest.values[position].facets = facets[Int(document.facet)]
            index.count(latest.values[position])
        }
        index.fields = await fields
        index.records = latest
        latest = [:]
        index.search = snapshot.search
        index.nextDocID = snapshot.nextDocID
        return index
    }

    /// The field indexes of the snapshot's records, `documents` grouped by their facets.
    private static func fieldIndexes(_ documents: [IndexSnapshot.Document], facets: [Facets]) -> FieldIndexes {
        var docsByFacet = [[UInt32]](repeating: [], count: facets.count)
        for document in documents { docsByFacet[Int(document.facet)].append(document.docID) }
        return FieldIndexes(zip(facets, docsByFacet).map { (facets: $0, docIDs: $1) })
    }
}

/// Log entries inflated and tokenized off the index, in parallel parts: each part's terms are
/// numbered in its own `vocabulary`, so workers share nothing.
struct DecodedBatch: Sendable {
    struct Document: Sendable {
        /// Nil when the body could not be inflated or decoded.
        var facets: Facets?
        /// Terms numbered in the part's `vocabulary`.
        var terms: SearchIndex.AnalyzedTerms<UInt32>?
    }

    /// Index of the part's first entry in the batch.
    var offset: Int
    var vocabulary: [String] = []
    var documents: [Document] = []

    /// The batch in `workers` parts, decoded by child tasks, in batch order.
    static func decode(_ entries: ArraySlice<StoredRecord>, workers: Int, dictionaries: DictionarySet) async -> [DecodedBatch] {
        let share = (entries.count + workers - 1) / workers
        let base = entries.startIndex
        let parts = await withTaskGroup(of: DecodedBatch.self, returning: [DecodedBatch].self) { group in
            for worker in 0..<workers {
                let start = min(worker * share, entries.count)
                let part = entries[(base + start)..<(base + min(start + share, entries.count))]
                group.addTask { DecodedBatch(part, offset: start, dictionaries: dictionaries) }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        return parts.filter { !$0.documents.isEmpty }.sorted { $0.offset < $1.offset }
    }

    private init(_ entries: ArraySlice<StoredRecord>, offset: Int, dictionaries: DictionarySet) {
        self.offset = offset
        var ids: [String: UInt32] = [:]
        for entry in entries {
            guard let content = try? entry.content(dictionaries) else {
                documents.append(Document())
                continue
            }
            let terms = SearchIndex.AnalyzedTerms(fields: RecordIndex.searchFields(content)) { term -> UInt32 in
                if let known = ids[term] { return known }
                let id = UInt32(vocabulary.count)
                ids[term] = id
                vocabulary.append(term)
                return id
            }
            documents.append(Document(facets: Facets(content), terms: terms))
        }
    }
}
