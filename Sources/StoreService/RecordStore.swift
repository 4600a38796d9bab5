import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueShared
import Foundation
import Logging
import NIOCore

/// The store's data: the durable log plus in-memory indexes, behind one lock.
///
/// Writes append to the log under the lock (so log order is version order), apply to memory,
/// release the lock, then wait for durability (`DurabilityGate`) before they are acknowledged.
/// Reads only take the lock long enough to copy what they need.
public final class RecordStore: Sendable {
    public struct Configuration: Sendable {
        public var dataDirectory: String
        public var fsync: FsyncPolicy
        public var loadBundledDataset: Bool
        /// Compact automatically once dead bytes exceed this share of the log (and 1 MiB).
        public var compactionRatio: Double
        /// When to train a compression dictionary on the store's own records; nil = never.
        public var dictionaryTraining: DictionaryPolicy?

        public init(dataDirectory: String, fsync: FsyncPolicy = .always, loadBundledDataset: Bool = true,
                    compactionRatio: Double = 0.5, dictionaryTraining: DictionaryPolicy? = DictionaryPolicy()) {
            self.dataDirectory = dataDirectory
            self.fsync = fsync
            self.loadBundledDataset = loadBundledDataset
            self.compactionRatio = compactionRatio
            self.dictionaryTraining = dictionaryTraining
        }
    }

    /// What a delete leaves: the version it deleted, so the id's next PUT continues from it
    /// (versions never repeat, so compare-and-set can't be fooled by DELETE + PUT), kept through
    /// compaction as a delete entry (`logBytes` of it) and rebuilt from the log at start.
    struct Tombstone: Sendable, Equatable {
        var version: UInt64
        var updatedAt: Int64
        var logBytes: UInt32
    }

    struct State: Sendable {
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
        var liveLogBytes = 0
        var writes = 0
        var compactions = 0
        var compacting = false
        var training = false
        /// Live records when the newest trained dictionary was trained (0: none yet).
        var trainedOn = 0
        var dictionaryFileBytes = 0
        /// Whether `index.snapshot` describes exactly this state and log.
        var snapshotIsCurrent = false

        /// Adds an already-numbered record to the id and field indexes and the byte counts.
        mutating func index(_ record: StoredRecord) {
            fields.insert(record)
            count(record)
        }

        /// `index` without the field indexes (filled in bulk by the caller).
        mutating func count(_ record: StoredRecord) {
            idByDocID[record.docID] = record.id
            rawBytes += Int(record.rawLength)
            storedBytes += record.body.count
            liveLogBytes += Int(record.logBytes)
        }
    }

    public let configuration: Configuration
    let logger: Logger
    private let state: Locked<State>
    private let log: RecordLog
    /// Built-in and trained dictionaries; new writes use the newest.
    let dictionaries: DictionarySet
    private let gate: DurabilityGate
    private let recoveryState = Locked(RecoveryReport(entriesReplayed: 0, discardedBytes: 0, reason: nil, loadedBundledDataset: 0))
    /// What start-up found and did.
    public var recovery: RecoveryReport { recoveryState.withLock { $0 } }

    public struct RecoveryReport: Sendable, Equatable {
        public var entriesReplayed: Int
        public var discardedBytes: Int
        public var reason: String?
        public var loadedBundledDataset: Int
        /// Whether the indexes came from `index.snapshot` (plus the log after it) instead of a rebuild.
        public var usedIndexSnapshot = false
    }

    public init(configuration: Configuration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        // A backup copy is checked whole before it is used (and refused when incomplete or damaged).
        try Backup.verifyIfBackup(directory: configuration.dataDirectory)
        let log = try RecordLog(directory: configuration.dataDirectory)
        let wasNew = log.isNew
        let dictionaryFiles = try DictionaryFile.loadAll(from: configuration.dataDirectory)
        let dictionaries = DictionarySet(trained: dictionaryFiles.map(\.dictionary))
        var (recovered, report, usedSnapshot) = try Self.recover(log, directory: wasNew ? nil : configuration.dataDirectory,
                                                                 dictionaries: dictionaries, logger: logger)
        recovered.trainedOn = Int(dictionaryFiles.last?.trainedOn ?? 0)
        recovered.dictionaryFileBytes = dictionaryFiles.reduce(0) { $0 + $1.encoded().count }
        if report.discardedBytes > 0 {
            logger.warning("record log had a bad tail; cut it off", metadata: [
                "discarded_bytes": "\(report.discardedBytes)", "reason": "\(report.reason ?? "")",
                "entries_kept": "\(report.entries)",
            ])
        }
        self.log = log
        self.dictionaries = dictionaries
        self.state = Locked(recovered)
        self.gate = DurabilityGate(policy: configuration.fsync, log: log, logger: logger)
        recoveryState.withLock {
            $0 = RecoveryReport(entriesReplayed: report.entries, discardedBytes: report.discardedBytes,
                                reason: report.reason, loadedBundledDataset: 0, usedIndexSnapshot: usedSnapshot)
        }
        // A crash between training and the compaction after it leaves bodies on an older dictionary.
        let stale = recovered.records.values.reduce(0) { $0 + ($1.dictionaryID == dictionaries.newest.id ? 0 : 1) }
        if dictionaries.newest.id >= DictionarySet.firstTrainedID, stale > recovered.records.count / 10 {
            Task.detached { [self] in
                do { try self.compact() } catch { self.logger.error("compaction failed", metadata: ["error": "\(error)"]) }
            }
        }
        if wasNew && configuration.loadBundledDataset {
            let dataset = try BundledDataset.load()
            for record in dataset {
                _ = try await put(id: record.id, content: record.content, expectedVersion: nil)
            }
            recoveryState.withLock { $0.loadedBundledDataset = dataset.count }
            logger.info("loaded the bundled dataset into an empty data directory", metadata: ["records": "\(dataset.count)"])
        }
    }

    /// Flushes pending writes, stops the fsync thread and saves the index snapshot (so the next
    /// start-up need not rebuild the indexes). Safe to call more than once.
    public func close() {
        gate.stop()
        saveIndexSnapshot()
    }

    deinit {
        gate.stop()
    }

    // MARK: Writes

    public func put(id: String, content: RecordContent, expectedVersion: UInt64?) async throws(StoreError) -> (version: UInt64, updatedAt: Int64) {
        let (position, written) = try appendPut(id: id, content: content, expectedVersion: expectedVersion)
        try await waitDurable(position)
        return written
    }

    /// `put` for callers on an event loop: appends now (conflicts and invalid records fail at
    /// once) and calls `completion` when the write is durable, without a task hop.
    public func put(id: String, content: RecordContent, expectedVersion: UInt64?,
                    completion: @escaping @Sendable (Result<(version: UInt64, updatedAt: Int64), StoreError>) -> Void) {
        let appended: (UInt64, (version: UInt64, updatedAt: Int64))
        do { appended = try appendPut(id: id, content: content, expectedVersion: expectedVersion) } catch { return completion(.failure(error)) }
        whenDurable(appended.0) { error in
            completion(error.map { .failure($0) } ?? .success(appended.1))
        }
    }

    /// `delete` for callers on an event loop; see `put(id:content:expectedVersion:completion:)`.
    public func delete(id: String, expectedVersion: UInt64?, completion: @escaping @Sendable (Result<UInt64, StoreError>) -> Void) {
        let appended: (UInt64, UInt64)
        do { appended = try appendDelete(id: id, expectedVersion: expectedVersion) } catch { return completion(.failure(error)) }
        whenDurable(appended.0) { error in
            completion(error.map { .failure($0) } ?? .success(appended.1))
        }
    }

    /// Validates, compresses and appends a put; returns the log position to wait for.
    private func appendPut(id: String, content: RecordContent, expectedVersion: UInt64?) throws(StoreError) -> (UInt64, (version: UInt64, updatedAt: Int64)) {
        do {
            try RecordValidator.validate(id: id)
            try RecordValidator.validate(content)
        } catch {
            throw .invalidRecord(error)
        }
        let raw = Array(buffer: RecordBody.encode(content))
        let packed: (dictionaryID: UInt32, bytes: [UInt8])
        do { packed = try dictionaries.compress(raw) } catch { throw .badRequest("compression failed: \(error)") }
        let updatedAt = Int64(Date().timeIntervalSince1970 * 1000)
        // Tokenizing is the costly part of indexing: do it for the new version, and for the version
        // it replaces (to unindex it), before taking the lock, so both event loops can do it at once.
        let analyzed = SearchIndex.AnalyzedDocument(fields: Self.searchFields(content))
        let replaced = state.withLock { $0.records[id] }.flatMap { old in
            (try? old.content(dictionaries)).map { (docID: old.docID, terms: SearchIndex.AnalyzedDocument(fields: Self.searchFields($0))) }
        }

        let (position, version) = try state.withLock { state throws(StoreError) -> (UInt64, UInt64) in
            // A deleted record does not exist (expected version 0 matches it), but its next version
            // follows the deleted one.
            let current = state.records[id]?.version ?? 0
            if let expectedVersion, expectedVersion != current {
                throw .conflict(id: id, expected: expectedVersion, actual: current)
            }
            let next = (state.records[id]?.version ?? state.tombstones[id]?.version ?? 0) + 1
            let entry = LogEntry.put(id: id, version: next, updatedAt: updatedAt, encoding: .zlib,
                                     dictionaryID: packed.dictionaryID, rawLength: UInt32(raw.count), body: packed.bytes)
            let bytes = entry.encoded()
            do { try log.append(bytes) } catch let error as StorageError { throw .storage(error) } catch { throw .storage(.io(operation: "write", path: log.path, errno: 0)) }
            Self.apply(entry, size: bytes.count, content: content, analyzed: analyzed, replaced: replaced, to: &state,
                       dictionaries: dictionaries, logger: logger)
            state.writes += 1
            state.snapshotIsCurrent = false
            return (gate.noteAppended(bytes.count), next)
        }
        return (position, (version, updatedAt))
    }

    public func delete(id: String, expectedVersion: UInt64?) async throws(StoreError) -> UInt64 {
        let (position, version) = try appendDelete(id: id, expectedVersion: expectedVersion)
        try await waitDurable(position)
        return version
    }

    private func appendDelete(id: String, expectedVersion: UInt64?) throws(StoreError) -> (UInt64, UInt64) {
        let updatedAt = Int64(Date().timeIntervalSince1970 * 1000)
        let (position, version) = try state.withLock { state throws(StoreError) -> (UInt64, UInt64) in
            guard let current = state.records[id] else { throw .notFound(id: id) }
            if let expectedVersion, expectedVersion != current.version {
                throw .conflict(id: id, expected: expectedVersion, actual: current.version)
            }
            let entry = LogEntry.delete(id: id, version: current.version, updatedAt: updatedAt)
            let bytes = entry.encoded()
            do { try log.append(bytes) } catch let error as StorageError { throw .storage(error) } catch { throw .storage(.io(operation: "write", path: log.path, errno: 0)) }
            Self.apply(entry, size: bytes.count, to: &state, dictionaries: dictionaries, logger: logger)
            state.writes += 1
            state.snapshotIsCurrent = false
            return (gate.noteAppended(bytes.count), current.version)
        }
        return (position, version)
    }

    // MARK: Backup

    /// Fixes what a BACKUP copies, in one short hold of the lock (writers wait only for a dup(2)):
    /// the log's length now and the trained dictionaries now. See `Backup.Source`.
    func beginBackup() throws(StoreError) -> Backup.Source {
        try state.withLock { _ throws(StoreError) -> Backup.Source in
            let fd = dup(log.fd)
            guard fd >= 0 else { throw .storage(.fromErrno("dup", log.path)) }
            return Backup.Source(logFD: fd, logLength: log.size, dictionaryIDs: dictionaries.trained.map(\.id),
                                 directory: configuration.dataDirectory)
        }
    }

    // MARK: Bulk import

    /// Applies an IMPORT batch all or nothing: every item is validated, compressed and checked
    /// (compare-and-set, `version` above the id's last, in batch order so an id may come twice)
    /// before anything is written; then all entries go to the log in one write(2), are applied to
    /// memory in the same hold of the lock, and `completion` runs once they are durable (one
    /// fsync for the batch under `--fsync always`). The first refused item fails the batch with
    /// `.importLine` naming its line, and nothing of the batch is in the log or in memory. A
    /// failed write (e.g. ENOSPC) cuts the log back: nothing applied either.
    public func importBatch(_ items: [ImportItem], existing: ImportExisting,
                            completion: @escaping @Sendable (Result<(written: Int, skipped: Int), StoreError>) -> Void) {
        struct Prepared {
            var item: ImportItem
            var raw: Int
            var packed: (dictionaryID: UInt32, bytes: [UInt8])
            var analyzed: SearchIndex.AnalyzedDocument
        }
        var prepared: [Prepared] = []
        prepared.reserveCapacity(items.count)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for item in items {
            do {
                try RecordValidator.validate(id: item.id)
                try RecordValidator.validate(item.content)
            } catch {
                return completion(.failure(.importLine(line: item.line, .invalidRecord(error))))
            }
            let raw = Array(buffer: RecordBody.encode(item.content))
            guard let packed = try? dictionaries.compress(raw) else {
                return completion(.failure(.importLine(line: item.line, .badRequest("compression failed"))))
            }
            prepared.append(Prepared(item: item, raw: raw.count, packed: packed,
                                     analyzed: SearchIndex.AnalyzedDocument(fields: Self.searchFields(item.content))))
        }
        let outcome = Result { () throws(StoreError) -> (UInt64, Int, Int) in
            try state.withLock { state throws(StoreError) -> (UInt64, Int, Int) in
                // Versions as the batch leaves them so far (0: deleted), for ids it writes twice.
                var batchVersions: [String: UInt64] = [:]
                var entries: [(LogEntry, Prepared)] = []
                var skipped = 0
                for p in prepared {
                    let id = p.item.id
                    let current = batchVersions[id] ?? state.records[id]?.version ?? 0
                    let last = batchVersions[id] ?? state.records[id]?.version ?? state.tombstones[id]?.version ?? 0
                    if existing == .skip && current != 0 {
                        skipped += 1
                        continue
                    }
                    if let expected = p.item.expectedVersion, expected != current {
                        throw .importLine(line: p.item.line, .conflict(id: id, expected: expected, actual: current))
                    }
                    var next = last + 1
                    if let version = p.item.version {
                        guard version > last else {
                            throw .importLine(line: p.item.line, .badRequest("version \(version) of '\(id)' is not above its last version \(last)"))
                        }
                        next = version
                    }
                    batchVersions[id] = next
                    entries.append((LogEntry.put(id: id, version: next, updatedAt: p.item.updatedAt ?? now, encoding: .zlib,
                                                 dictionaryID: p.packed.dictionaryID, rawLength: UInt32(p.raw), body: p.packed.bytes), p))
                }
                var encoded: [[UInt8]] = []
                encoded.reserveCapacity(entries.count)
                for (entry, _) in entries { encoded.append(entry.encoded()) }
                let bytes = encoded.reduce(into: [UInt8]()) { $0 += $1 }
                guard !bytes.isEmpty else { return (0, 0, skipped) }
                do { try log.append(bytes) } catch let error as StorageError { throw .storage(error) } catch { throw .storage(.io(operation: "write", path: log.path, errno: 0)) }
                for ((entry, p), entryBytes) in zip(entries, encoded) {
                    Self.apply(entry, size: entryBytes.count, content: p.item.content, analyzed: p.analyzed, to: &state,
                               dictionaries: dictionaries, logger: logger)
                }
                state.writes += entries.count
                state.snapshotIsCurrent = false
                return (gate.noteAppended(bytes.count), entries.count, skipped)
            }
        }
        switch outcome {
        case .failure(let error): completion(.failure(error))
        case .success(let (position, written, skipped)):
            guard written > 0 else { return completion(.success((0, skipped))) }
            whenDurable(position) { error in completion(error.map { .failure($0) } ?? .success((written, skipped))) }
        }
    }

    /// Calls `done` once the write at `position` is durable (nil) or cannot be (its error); after
    /// a durable write it checks whether compaction or dictionary training is due.
    private func whenDurable(_ position: UInt64, _ done: @escaping @Sendable (StoreError?) -> Void) {
        gate.whenDurable(position) { [self] error in
            guard let error else {
                scheduleCompactionIfWorthwhile()
                scheduleTrainingIfDue()
                return done(nil)
            }
            done((error as? StorageError).map { .storage($0) } ?? .storage(.io(operation: "fsync", path: log.path, errno: 0)))
        }
    }

    /// `whenDurable` for async callers.
    private func waitDurable(_ position: UInt64) async throws(StoreError) {
        let failure: StoreError? = await withCheckedContinuation { continuation in
            whenDurable(position) { continuation.resume(returning: $0) }
        }
        if let failure { throw failure }
    }

    /// Applies a log entry to memory. `content` spares inflating a body we were just given.
    /// `analyzed` and `replaced` are the new version's terms and the replaced version's, when the
    /// caller computed them outside the lock; `replaced` is used only if it is still the version
    /// being replaced (another write may have come in between).
    private static func apply(_ entry: LogEntry, size: Int, content given: RecordContent? = nil,
                              analyzed: SearchIndex.AnalyzedDocument? = nil,
                              replaced: (docID: UInt32, terms: SearchIndex.AnalyzedDocument)? = nil, to state: inout State,
                              dictionaries: DictionarySet, logger: Logger) {
        if let tombstone = state.tombstones.removeValue(forKey: entry.id) { state.liveLogBytes -= Int(tombstone.logBytes) }
        if entry.kind == .delete {
            state.tombstones[entry.id] = Tombstone(version: entry.version, updatedAt: entry.updatedAt, logBytes: UInt32(size))
            state.liveLogBytes += size
        }
        if let old = state.records.removeValue(forKey: entry.id) {
            // The index keeps no per-document term lists: the old body says which terms to drop.
            if let replaced, replaced.docID == old.docID {
                state.search.remove(docID: old.docID, analyzed: replaced.terms)
            } else if let oldContent = try? old.content(dictionaries) {
                state.search.remove(docID: old.docID, fields: Self.searchFields(oldContent))
            } else {
                logger.error("cannot inflate a replaced record to unindex it", metadata: ["id": "\(old.id)"])
                state.search.remove(docID: old.docID, fields: [])
            }
            state.idByDocID[old.docID] = nil
            state.fields.remove(old)
            state.rawBytes -= Int(old.rawLength)
            state.storedBytes -= old.body.count
            state.liveLogBytes -= Int(old.logBytes)
            if entry.kind == .delete { return }
        }
        guard entry.kind == .put else { return }
        let content: RecordContent
        if let given {
            content = given
        } else {
            do {
                let raw = try dictionaries.decompress(entry.body, dictionaryID: entry.dictionaryID)
                content = try RecordBody.decode(ByteBuffer(bytes: raw))
            } catch {
                // The checksum passed, so this is a bug or an unknown dictionary; keep going without it.
                logger.error("skipping undecodable record body", metadata: ["id": "\(entry.id)", "error": "\(error)"])
                return
            }
        }
        // Every write takes a fresh doc id (the search index keeps its postings sorted that way).
        let docID = state.nextDocID
        state.nextDocID += 1
        let record = StoredRecord(id: entry.id, body: entry.body, version: entry.version, updatedAt: entry.updatedAt,
                                  facets: state.facets.intern(Facets(content)), docID: docID,
                                  dictionaryID: entry.dictionaryID, rawLength: entry.rawLength, logBytes: UInt32(size))
        state.records[entry.id] = record
        state.idByDocID[docID] = entry.id
        state.fields.insert(record)
        if let analyzed {
            state.search.upsert(docID: docID, analyzed: analyzed)
        } else {
            state.search.upsert(docID: docID, fields: Self.searchFields(content))
        }
        state.rawBytes += Int(entry.rawLength)
        state.storedBytes += entry.body.count
        state.liveLogBytes += size
    }

    static func searchFields(_ content: RecordContent) -> [String] {
        [content.film, content.subject, content.reading, content.source]
    }

    // MARK: Start-up

    /// Rebuilds the state from the log: from the index snapshot plus the log after it when the
    /// snapshot matches the log, else by indexing every live record.
    private static func recover(_ log: RecordLog, directory: String?, dictionaries: DictionarySet,
                                logger: Logger) throws -> (State, RecordLog.RecoveryReport, Bool) {
        let clock = ContinuousClock()
        let started = clock.now
        let snapshot = directory.flatMap { IndexSnapshot.load(from: $0) }
        let loaded = clock.now
        // Only each id's last entry matters: keep that and index just the survivors, so start-up
        // does not inflate and tokenize every superseded version. Until indexed, a record's
        // `docID` is its position in the log and its facets are `Facets.unknown`; the same
        // dictionary then becomes the store's (no second copy of a million records).
        var latest: [String: StoredRecord] = [:]
        latest.reserveCapacity(snapshot?.documents.count ?? 0)
        var order: UInt32 = 0
        var offset = RecordLog.header.count
        var restored = snapshot.flatMap { $0.logSize == offset ? restore($0, from: &latest) : nil }
        var tail = 0
        var tombstones: [String: Tombstone] = [:]
        let report = try log.recover { entry, size in
            offset += size
            tombstones[entry.id] = entry.kind == .delete
                ? Tombstone(version: entry.version, updatedAt: entry.updatedAt, logBytes: UInt32(size)) : nil
            if restored != nil {
                apply(entry, size: size, to: &restored!, dictionaries: dictionaries, logger: logger)
                tail += 1
                return
            }
            order += 1
            latest[entry.id] = entry.kind == .put ? StoredRecord(pending: entry, order: order, logBytes: size) : nil
            if let snapshot, offset == snapshot.logSize { restored = restore(snapshot, from: &latest) }
        }
        let scanned = clock.now
        // A record whose dictionary is gone cannot be read: refuse to start rather than drop it.
        if let missing = (restored?.records ?? latest).values.first(where: { $0.dictionaryID != 0 && dictionaries.dictionary(id: $0.dictionaryID) == nil }) {
            throw StorageError.corruptDictionary(path: (directory ?? log.directory) + "/" + DictionaryFile.fileName(id: missing.dictionaryID),
                                                 reason: "missing, but record '\(missing.id)' was compressed with it")
        }
        var state: State
        if var restored {
            restored.snapshotIsCurrent = tail == 0
            state = restored
        } else {
            if snapshot != nil { logger.notice("index snapshot does not match the record log; rebuilding the indexes") }
            state = rebuild(&latest, dictionaries: dictionaries, logger: logger)
        }
        state.tombstones = tombstones
        state.liveLogBytes = state.records.values.reduce(0) { $0 + Int($1.logBytes) } + tombstones.values.reduce(0) { $0 + Int($1.logBytes) }
        logger.info("recovered the record log", metadata: [
            "records": "\(state.records.count)", "from_snapshot": "\(restored != nil)", "tail_entries": "\(tail)",
            "snapshot_ms": "\(Self.milliseconds(loaded - started))", "scan_ms": "\(Self.milliseconds(scanned - loaded))",
            "index_ms": "\(Self.milliseconds(clock.now - scanned))",
        ])
        return (state, report, restored != nil)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Indexes the survivors of a log scan (`latest`, which becomes the store's records), in log
    /// order. Inflating and tokenizing (nearly all of the work) runs on every core, a batch at a
    /// time; adding to the indexes stays sequential.
    private static func rebuild(_ latest: inout [String: StoredRecord], dictionaries: DictionarySet, logger: Logger) -> State {
        var state = State()
        state.idByDocID.reserveCapacity(latest.count)
        let survivors = latest.values.sorted { $0.docID < $1.docID }
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        for start in stride(from: 0, to: survivors.count, by: 16_384) {
            let batch = survivors[start..<min(start + 16_384, survivors.count)]
            for part in DecodedBatch.decode(batch, workers: workers, dictionaries: dictionaries) {
                let termIDs = part.vocabulary.map { state.search.termID($0) }
                for (survivor, document) in zip(batch[(batch.startIndex + part.offset)...], part.documents) {
                    guard let facets = document.facets else {
                        logger.error("skipping undecodable record body", metadata: ["id": "\(survivor.id)"])
                        latest[survivor.id] = nil
                        continue
                    }
                    let docID = state.nextDocID
                    state.nextDocID += 1
                    var record = survivor
                    record.docID = docID
                    record.facets = state.facets.intern(facets)
                    latest[survivor.id] = record
                    state.index(record)
                    state.search.insert(docID: docID, length: document.length,
                                        frequencies: document.frequencies.lazy.map { (key: termIDs[Int($0.term)], value: $0.count) })
                }
            }
        }
        state.search.compact()
        state.records = latest
        latest = [:]
        return state
    }

    /// The state the snapshot describes, with bodies from the log's live records (`latest`,
    /// which becomes the store's records); nil, leaving `latest` as it was, unless those are
    /// exactly the records the snapshot lists.
    private static func restore(_ snapshot: IndexSnapshot, from latest: inout [String: StoredRecord]) -> State? {
        guard latest.count == snapshot.documents.count, snapshot.search.documentCount == latest.count else { return nil }
        // Doc ids follow log order, so the snapshot's records (sorted by doc id) must meet the
        // log's in increasing position: that also proves no id is listed twice.
        var previous: (docID: UInt32, order: UInt32)?
        var positions: [Dictionary<String, StoredRecord>.Index] = []
        positions.reserveCapacity(latest.count)
        for document in snapshot.documents {
            guard let position = latest.index(forKey: document.id) else { return nil }
            let record = latest.values[position]
            guard record.version == document.version, record.updatedAt == document.updatedAt, record.rawLength == document.rawLength,
                  previous.map({ $0.docID < document.docID && $0.order < record.docID }) ?? true else { return nil }
            previous = (document.docID, record.docID)
            positions.append(position)
        }
        var state = State()
        state.idByDocID.reserveCapacity(latest.count)
        let facets = snapshot.facets.map { state.facets.intern($0) }
        // Updating values in place keeps the positions valid: one hash lookup per record in all.
        var docsByFacet = [[UInt32]](repeating: [], count: facets.count)
        for (document, position) in zip(snapshot.documents, positions) {
            latest.values[position].docID = document.docID
            latest.values[position].facets = facets[Int(document.facet)]
            docsByFacet[Int(document.facet)].append(document.docID)
            state.count(latest.values[position])
        }
        for (facet, docIDs) in zip(facets, docsByFacet) { state.fields.insert(docIDs, sharing: facet) }
        state.records = latest
        latest = [:]
        state.search = snapshot.search
        state.nextDocID = snapshot.nextDocID
        return state
    }

    /// Writes `index.snapshot` unless it is already current. The state is copied under the lock
    /// (copy-on-write: cheap) and serialised outside it.
    private func saveIndexSnapshot() {
        let taken = state.withLock { state -> (State, Int)? in
            guard !state.snapshotIsCurrent, !state.compacting else { return nil }
            state.snapshotIsCurrent = true
            return (state, log.size)
        }
        guard let (copy, logSize) = taken else { return }
        var facetIndex: [ObjectIdentifier: UInt32] = [:]
        var facets: [Facets] = []
        for facet in copy.facets.all {
            facetIndex[ObjectIdentifier(facet)] = UInt32(facets.count)
            facets.append(facet)
        }
        let documents = copy.records.values.sorted { $0.docID < $1.docID }.map { record in
            IndexSnapshot.Document(id: record.id, docID: record.docID, version: record.version, updatedAt: record.updatedAt,
                                   rawLength: record.rawLength, facet: facetIndex[ObjectIdentifier(record.facets)]!)
        }
        let snapshot = IndexSnapshot(logSize: logSize, nextDocID: copy.nextDocID, facets: facets, documents: documents, search: copy.search)
        do {
            try snapshot.write(to: configuration.dataDirectory)
        } catch {
            state.withLock { $0.snapshotIsCurrent = false }
            logger.error("could not save the index snapshot; the next start-up rebuilds the indexes", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Reads

    func record(id: String) -> StoredRecord? {
        state.withLock { $0.records[id] }
    }

    public func get(id: String) throws(StoreError) -> Record {
        guard let stored = record(id: id) else { throw .notFound(id: id) }
        return try decode(stored)
    }

    func decode(_ stored: StoredRecord) throws(StoreError) -> Record {
        do {
            return Record(id: stored.id, content: try stored.content(dictionaries), version: stored.version, updatedAt: stored.updatedAt)
        } catch {
            throw .corruptRecord(id: stored.id)
        }
    }

    /// Records matching `filter`, ordered by id.
    func query(_ filter: RecordFilter, limit: Int, offset: Int) -> (records: [StoredRecord], total: Int) {
        let filter = filter.folded
        return state.withLock { state in
            // Only the first offset+limit ids in id order are needed: select them in one pass
            // instead of sorting every match (a film holds a sixth of a large corpus).
            var first = FirstInOrder(count: offset + limit)
            let total: Int
            if let matches = state.fields.matches(for: filter) {
                total = matches.count
                for docID in matches { if let id = state.idByDocID[docID] { first.offer(id) } }
            } else {
                total = state.records.count
                for id in state.records.keys { first.offer(id) }
            }
            return (first.smallest.dropFirst(offset).compactMap { state.records[$0] }, total)
        }
    }

    /// Hits `offset ..< offset + limit` of the query `text` (SearchQuery's syntax) within
    /// `filter`, best first, and the number of all matches. When nothing matches, `suggestions`
    /// has the closest known word for each unknown one; with `fuzzy`, the query is then run again
    /// with those words in place of the unknown ones (and the suggestions still say which).
    public func search(_ text: String, filter: RecordFilter, limit: Int, offset: Int = 0, fuzzy: Bool = false) throws(SearchQuerySyntaxError)
        -> (results: [SearchHit], total: Int, suggestions: [String]) {
        var query = try SearchQuery(parsing: text)
        let filter = filter.folded
        let dictionaries = self.dictionaries
        let (hits, total, suggested): ([(StoredRecord, Double)], Int, [(stem: String, example: StoredRecord?)]) = state.withLock { state in
            let include: (UInt32) -> Bool = filter.isEmpty ? { _ in true } : { docID in
                state.idByDocID[docID].flatMap { state.records[$0] }?.matches(filter) ?? false
            }
            // Phrases and column filters verify candidates against the text, inflated here, under
            // the lock (the index and the records must agree); plain words never call this.
            let records = state.records, idByDocID = state.idByDocID
            let fields: (UInt32) -> [String]? = { docID in
                idByDocID[docID].flatMap { records[$0] }.flatMap { try? $0.content(dictionaries) }.map(Self.searchFields)
            }
            var page = state.search.search(query, limit: limit, offset: offset, where: include, fields: fields)
            // Nothing matched: for each word the index does not know, its closest known term,
            // with a record holding it (to show the word as written, not its stem).
            var suggested: [(stem: String, example: StoredRecord?)] = []
            var corrections: [String: String] = [:]
            if page.total == 0 {
                for phrase in query.phrases where !phrase.prefix {
                    for term in phrase.terms where (state.search.termIDs[term].map { state.search.postings[$0].live == 0 } ?? true) {
                        guard let best = state.search.suggester.suggestions(for: term, in: state.search, limit: 1).first else { continue }
                        let example = state.search.firstLiveDocument(termID: best.id).flatMap { state.idByDocID[$0] }.flatMap { state.records[$0] }
                        suggested.append((best.term, example))
                        corrections[term] = best.term
                    }
                }
            }
            if fuzzy && !corrections.isEmpty {
                query = query.replacing(corrections)
                page = state.search.search(query, limit: limit, offset: offset, where: include, fields: fields)
            }
            return (page.hits.compactMap { hit in
                state.idByDocID[hit.docID].flatMap { state.records[$0] }.map { ($0, hit.score) }
            }, page.total, suggested)
        }
        var suggestions: [String] = []
        for (stem, example) in suggested {
            let fields = (example.flatMap { try? $0.content(dictionaries) }).map(Self.searchFields) ?? []
            let word = fields.lazy.flatMap(Unicode61Tokenizer.terms).first { PorterStemmer.stem($0) == stem } ?? stem
            if !suggestions.contains(word) { suggestions.append(word) }
        }
        // Snippets need the text: inflate only the hits, outside the lock.
        let results = hits.map { stored, score in
            let content = try? stored.content(dictionaries)
            let snippet = content.map { SearchIndex.snippet(fields: Self.searchFields($0), query: query) } ?? ""
            return SearchHit(id: stored.id, score: score, film: stored.film, subject: stored.subject, snippet: snippet)
        }
        return (results, total, suggestions)
    }

    /// Every live record matching `filter` at one moment, ordered by id (UTF-8 byte order), for
    /// EXPORT. The matching records are copied in one hold of the lock, so the set is exactly the
    /// writes applied before that moment (every acknowledged one; none after). Bodies are not
    /// copied: each `StoredRecord` shares its compressed body with the store (copy-on-write, and a
    /// later write replaces the entry rather than the bytes), so the snapshot costs about a hundred
    /// bytes a record and JSON is made a chunk at a time by whoever streams it. Sorted off the lock.
    func exportSnapshot(_ filter: RecordFilter) -> [StoredRecord] {
        let filter = filter.folded
        let taken = state.withLock { state -> [StoredRecord] in
            guard let matches = state.fields.matches(for: filter) else { return Array(state.records.values) }
            return matches.compactMap { state.idByDocID[$0].flatMap { state.records[$0] } }
        }
        return taken.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// Up to `limit` record ids, in no particular order (benchmarks pick from them).
    public func ids(limit: Int) -> [String] {
        state.withLock { Array($0.records.keys.prefix(limit)) }
    }

    /// One row per film in UTF-8 byte order of the title. Records of one film may disagree on
    /// year or director: the most recently written one (highest doc id) speaks for the film.
    public func films() -> [FilmSummary] {
        state.withLock { state in
            state.fields.byFilm.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.compactMap { film in
                guard let docs = state.fields.byFilm[film], let latest = docs.max(),
                      let sample = state.idByDocID[latest].flatMap({ state.records[$0] }) else { return nil }
                return FilmSummary(film: film, year: UInt16(clamping: sample.year), director: sample.director,
                                   records: UInt32(docs.count))
            }
        }
    }

    public func themes(film: String?) -> [ThemeCount] {
        state.withLock { state in
            var counts: [String: Int] = [:]
            if let film {
                for docID in state.fields.docs(ofFilm: FilterKey.fold(film)) {
                    for theme in state.idByDocID[docID].flatMap({ state.records[$0] })?.themes ?? [] { counts[theme, default: 0] += 1 }
                }
            } else {
                for (theme, docs) in state.fields.byTheme { counts[theme] = docs.count }
            }
            return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ThemeCount(theme: $0.key, records: UInt32($0.value)) }
        }
    }

    public struct Figures: Sendable, Equatable {
        public var records: Int
        public var rawBytes: Int
        public var storedBytes: Int
        public var logBytes: Int
        public var liveLogBytes: Int
        public var writes: Int
        public var compactions: Int
        public var fsyncs: Int
        /// Bytes of the trained dictionary files (on disk next to the log).
        public var dictionaryBytes: Int
        /// The dictionary new writes use.
        public var dictionaryID: UInt32
    }

    public func figures() -> Figures {
        let fsyncs = Int(gate.fsyncCount)
        return state.withLock { state in
            Figures(records: state.records.count, rawBytes: state.rawBytes, storedBytes: state.storedBytes,
                    logBytes: log.size, liveLogBytes: state.liveLogBytes + RecordLog.header.count,
                    writes: state.writes, compactions: state.compactions, fsyncs: fsyncs,
                    dictionaryBytes: state.dictionaryFileBytes, dictionaryID: dictionaries.newest.id)
        }
    }

    // MARK: Compaction

    private func scheduleCompactionIfWorthwhile() {
        let worthIt = state.withLock { state -> Bool in
            let dead = log.size - state.liveLogBytes - RecordLog.header.count
            guard !state.compacting, dead > 1 << 20,
                  Double(dead) > configuration.compactionRatio * Double(log.size) else { return false }
            state.compacting = true
            return true
        }
        guard worthIt else { return }
        Task.detached { [self] in
            do {
                try self.runCompaction()
                self.saveIndexSnapshot()
            } catch {
                self.logger.error("compaction failed", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Dictionary training

    private func scheduleTrainingIfDue() {
        guard let policy = configuration.dictionaryTraining else { return }
        let due = state.withLock { state -> Bool in
            guard !state.training, policy.isDue(liveRecords: state.records.count, trainedOn: state.trainedOn) else { return false }
            state.training = true
            return true
        }
        guard due else { return }
        Task.detached { [self] in
            do {
                if try self.runTraining(sampleBytes: policy.sampleBytes) != nil { try self.compact() }
            } catch {
                self.logger.error("dictionary training failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Trains a dictionary on the live records now, makes it durable, and has new writes use it.
    /// Returns its id (nil when there is nothing to train on). `compact()` then moves old bodies to it.
    @discardableResult
    public func trainDictionary(sampleBytes: Int = DictionaryPolicy().sampleBytes) throws -> UInt32? {
        let started = state.withLock { state -> Bool in
            guard !state.training else { return false }
            state.training = true
            return true
        }
        guard started else { return nil }
        return try runTraining(sampleBytes: sampleBytes)
    }

    private func runTraining(sampleBytes: Int) throws -> UInt32? {
        defer { state.withLock { $0.training = false } }
        // Every n-th live record, so the sample spans the whole store; copied under the lock, inflated outside it.
        let (picked, live) = state.withLock { state -> ([StoredRecord], Int) in
            let averageRaw = max(1, state.rawBytes / max(1, state.records.count))
            let stride = max(1, state.records.count / max(1, sampleBytes / averageRaw))
            var picked: [StoredRecord] = []
            for (index, record) in state.records.values.enumerated() where index % stride == 0 { picked.append(record) }
            return (picked, state.records.count)
        }
        let samples = picked.sorted { $0.docID < $1.docID }.compactMap { try? dictionaries.decompress($0.body, dictionaryID: $0.dictionaryID) }
        guard samples.count >= 2 else { return nil }
        let file = DictionaryFile(id: dictionaries.nextTrainedID, trainedOn: UInt64(live), bytes: DictionaryTrainer().train(samples))
        // Durable before any entry can name it.
        try file.write(to: configuration.dataDirectory)
        dictionaries.add(file.dictionary)
        state.withLock {
            $0.trainedOn = live
            $0.dictionaryFileBytes += file.encoded().count
        }
        logger.info("trained a compression dictionary", metadata: [
            "dictionary_id": "\(file.id)", "bytes": "\(file.bytes.count)", "samples": "\(samples.count)", "live_records": "\(live)",
        ])
        return file.id
    }

    /// Rewrites the log with only live records. Reads never wait for it; writes wait only for
    /// the final swap, which copies the few entries appended while the snapshot was written.
    public func compact() throws {
        let started = state.withLock { state -> Bool in
            guard !state.compacting else { return false }
            state.compacting = true
            return true
        }
        guard started else { return }
        try runCompaction()
        // The old snapshot described the old log; without a new one a crash would mean a rebuild.
        saveIndexSnapshot()
    }

    private func runCompaction() throws {
        defer { state.withLock { $0.compacting = false } }
        let (live, tombstones, snapshotOffset) = state.withLock { state -> ([StoredRecord], [(String, Tombstone)], Int) in
            (state.records.values.sorted { $0.docID < $1.docID }, state.tombstones.sorted { $0.key < $1.key }, log.size)
        }
        // Bodies compressed with an older dictionary are re-compressed with the newest, outside the lock.
        let newest = dictionaries.newest.id
        var snapshot: [LogEntry] = []
        var recompressed: [(docID: UInt32, body: [UInt8], logBytes: Int)] = []
        snapshot.reserveCapacity(live.count)
        for record in live {
            var entry = LogEntry.put(id: record.id, version: record.version, updatedAt: record.updatedAt, encoding: .zlib,
                                     dictionaryID: record.dictionaryID, rawLength: record.rawLength, body: record.body)
            if record.dictionaryID != newest, newest >= DictionarySet.firstTrainedID,
               let raw = try? dictionaries.decompress(record.body, dictionaryID: record.dictionaryID),
               let packed = try? dictionaries.compress(raw), packed.dictionaryID == newest {
                entry.dictionaryID = packed.dictionaryID
                entry.body = packed.bytes
                recompressed.append((record.docID, packed.bytes, entry.encoded().count))
            }
            snapshot.append(entry)
        }
        // Deleted ids keep their last version (see Tombstone): one delete entry each.
        for (id, tombstone) in tombstones {
            snapshot.append(LogEntry.delete(id: id, version: tombstone.version, updatedAt: tombstone.updatedAt))
        }
        var bytes: [UInt8] = []
        for entry in snapshot { bytes += entry.encoded() }
        let newFD = try log.writeCompactionFile(bytes)
        let before = log.size
        do {
            try state.withLock { state in
                let tail = try log.bytes(from: snapshotOffset)
                try gate.withSyncPaused {
                    try log.installCompactionFile(newFD, snapshotSize: bytes.count, tail: tail)
                }
                state.compactions += 1
                state.snapshotIsCurrent = false
                // Records not replaced meanwhile now live in the new file as re-compressed: serve that.
                for change in recompressed {
                    guard let id = state.idByDocID[change.docID], var record = state.records[id] else { continue }
                    state.storedBytes += change.body.count - record.body.count
                    state.liveLogBytes += change.logBytes - Int(record.logBytes)
                    record.body = change.body
                    record.dictionaryID = newest
                    record.logBytes = UInt32(change.logBytes)
                    state.records[id] = record
                }
            }
        } catch {
            log.abandonCompactionFile(newFD)
            throw error
        }
        logger.info("compacted the record log", metadata: ["bytes_before": "\(before)", "bytes_after": "\(log.size)"])
    }
}

/// Log entries inflated and tokenized off the lock, in parallel parts: each part's terms are
/// numbered in its own `vocabulary`, so workers share nothing.
struct DecodedBatch: Sendable {
    struct Document: Sendable {
        /// Nil when the body could not be inflated or decoded.
        var facets: Facets?
        var length = 0
        var frequencies: [(term: UInt32, count: UInt32)] = []
    }

    /// Index of the part's first entry in the batch.
    var offset: Int
    var vocabulary: [String] = []
    var documents: [Document] = []

    static func decode(_ entries: ArraySlice<StoredRecord>, workers: Int, dictionaries: DictionarySet) -> [DecodedBatch] {
        let share = (entries.count + workers - 1) / workers
        let slots = Slots<DecodedBatch>(count: workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = min(worker * share, entries.count)
            let base = entries.startIndex
            slots.set(worker, DecodedBatch(entries[(base + start)..<(base + min(start + share, entries.count))], offset: start,
                                           dictionaries: dictionaries))
        }
        return slots.values().filter { !$0.documents.isEmpty }
    }

    private init(_ entries: ArraySlice<StoredRecord>, offset: Int, dictionaries: DictionarySet) {
        self.offset = offset
        var ids: [String: UInt32] = [:]
        for entry in entries {
            guard let content = try? entry.content(dictionaries) else {
                documents.append(Document())
                continue
            }
            var counts: [UInt32: UInt32] = [:]
            var length = 0
            for field in RecordStore.searchFields(content) {
                for term in SearchIndex.terms(field) {
                    length += 1
                    let id: UInt32
                    if let known = ids[term] {
                        id = known
                    } else {
                        id = UInt32(vocabulary.count)
                        ids[term] = id
                        vocabulary.append(term)
                    }
                    counts[id, default: 0] += 1
                }
            }
            documents.append(Document(facets: Facets(content), length: length, frequencies: counts.map { ($0.key, $0.value) }))
        }
    }
}

/// One result slot per worker of a `concurrentPerform`: each writes only its own.
private final class Slots<T>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<T?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func set(_ index: Int, _ value: T) { buffer[index] = value }
    func values() -> [T] { buffer.compactMap { $0 } }
}
