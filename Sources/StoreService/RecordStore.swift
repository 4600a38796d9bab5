import EpilogueModel
import EpilogueCompression
import EpilogueShared
import Foundation
import Logging
import ServiceLifecycle

/// The store's data: the durable log plus the in-memory `RecordIndex`, behind one reader–writer lock.
///
/// **Who owns what.** Everything mutable lives in `state` (the index, the counters, the
/// maintenance flags) or is only touched while holding its lock (the log's file and size):
/// whoever holds the lock exclusively (`withLock`) owns all of it and is the only one who may
/// change it; readers (`withReadLock`: GET, FIND, SEARCH's ranking, EXPORT's selection, STATS)
/// share it and change nothing, so a SEARCH ranking for milliseconds at a million records does
/// not hold up the GETs of the other event loop. No other mutable state is shared. Slow work —
/// compressing, tokenizing, inflating, serialising a snapshot, rewriting the log — runs on the
/// calling thread outside the lock, on values copied out of it (copy-on-write makes that cheap).
///
/// Threads that call in, and why each exists:
/// - the server's event loops: reads and the append half of writes (NIO's, for the network);
/// - `DurabilityGate`'s fsync thread: a blocking fsync must not stall an event loop or a
///   cooperative-pool thread, and one thread lets concurrent writers share one fsync (group
///   commit). Write completions run on it (or at once on the caller, when nothing waits);
/// - the maintenance task group of `run()`: compaction and dictionary training (`StoreMaintenance`);
/// - recovery's task group, at start-up only: inflating and tokenizing on every core;
/// - Dispatch's worker threads, while an IMPORT batch is prepared (compressed and tokenized, one
///   share per core) before the lock is taken (`prepare`);
/// - NIO's blocking-I/O thread pool: a BACKUP's index snapshot, serialised from the index copy
///   `beginBackup` took (the server calls `Backup.Source.prepareSnapshot` there).
///
/// Writes append to the log under the lock (so log order is version order), apply to the index,
/// release the lock, then wait for durability before they are acknowledged. Reads take the lock
/// for reading, only long enough to find or copy what they need; a write waits for the readers
/// inside, and readers that come after a waiting writer wait for it.
///
/// A ServiceLifecycle `Service`: `run()` does maintenance until graceful shutdown, then waits for
/// the job in progress and closes the store (flush, stop the fsync thread, save the index snapshot).
public final class RecordStore: Service, Sendable {
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

    /// What the lock guards besides the log.
    struct State: Sendable {
        var index: RecordIndex
        var writes = 0
        var compactions = 0
        var compacting = false
        var training = false
        /// Live records when the newest trained dictionary was trained (0: none yet).
        var trainedOn = 0
        var dictionaryFileBytes = 0
        /// Whether `index.snapshot` describes exactly this index and log.
        var snapshotIsCurrent = false
    }

    public let configuration: Configuration
    let logger: Logger
    let state: ReadWriteLocked<State>
    /// Only used while holding `state`'s lock (see the rule above), except the fsync thread's
    /// `sync()`, which `DurabilityGate` keeps apart from a file swap.
    let log: RecordLog
    /// Built-in and trained dictionaries; new writes use the newest.
    public let dictionaries: DictionarySet
    let gate: DurabilityGate
    let maintenance = StoreMaintenance()
    private let recoveryState: Locked<RecoveryReport>
    /// What start-up found and did.
    public var recovery: RecoveryReport { recoveryState.withLock { $0 } }

    public init(configuration: Configuration, logger: Logger) async throws {
        self.configuration = configuration
        self.logger = logger
        // A backup copy is checked whole before it is used (and refused when incomplete or damaged).
        try Backup.verifyIfBackup(directory: configuration.dataDirectory)
        let log = try RecordLog(directory: configuration.dataDirectory)
        let wasNew = log.isNew
        let dictionaryFiles = try DictionaryFile.loadAll(from: configuration.dataDirectory)
        let dictionaries = DictionarySet(trained: dictionaryFiles.map(\.dictionary))
        let recovered = try await IndexRecovery.recover(log, directory: wasNew ? nil : configuration.dataDirectory,
                                                        dictionaries: dictionaries, logger: logger)
        var state = State(index: recovered.index)
        state.trainedOn = Int(dictionaryFiles.last?.trainedOn ?? 0)
        state.dictionaryFileBytes = dictionaryFiles.reduce(0) { $0 + $1.encoded().count }
        state.snapshotIsCurrent = recovered.snapshotIsCurrent
        self.log = log
        self.dictionaries = dictionaries
        self.state = ReadWriteLocked(state)
        self.gate = DurabilityGate(policy: configuration.fsync, log: log, logger: logger)
        self.recoveryState = Locked(recovered.report)
        // A crash between training and the compaction after it leaves bodies on an older dictionary.
        let records = recovered.index.records
        let stale = records.values.reduce(0) { $0 + ($1.dictionaryID == dictionaries.newest.id ? 0 : 1) }
        if dictionaries.newest.id >= DictionarySet.firstTrainedID, stale > records.count / 10 {
            maintenance.request(.compaction)
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

    /// Runs maintenance (compaction, dictionary training) as writes ask for it, until graceful
    /// shutdown or cancellation; then waits for the job in progress and closes the store. In a
    /// ServiceGroup, list the store before the server: services stop in reverse order, so the
    /// server has drained its connections (and their writes) before the store closes.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await maintenance.run { job in self.perform(job) }
        } onGracefulShutdown: {
            self.maintenance.finish()
        }
        close()
    }

    /// Flushes pending writes, stops the fsync thread and saves the index snapshot (so the next
    /// start-up need not rebuild the indexes). Safe to call more than once. Maintenance asked for
    /// afterwards is not done.
    public func close() {
        maintenance.finish()
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

    /// A record's body as the log stores it: validated, encoded and compressed (outside the lock).
    private func pack(id: String, _ content: RecordContent) throws(StoreError) -> (raw: Int, dictionaryID: UInt32, bytes: [UInt8]) {
        try Self.pack(id: id, content, compress: dictionaries.compress)
    }

    /// `pack` with the compressor given (tests hand in one that fails).
    static func pack(id: String, _ content: RecordContent, compress: ([UInt8]) throws -> (dictionaryID: UInt32, bytes: [UInt8]))
        throws(StoreError) -> (raw: Int, dictionaryID: UInt32, bytes: [UInt8]) {
        do {
            try RecordValidator.validate(id: id)
            try RecordValidator.validate(content)
        } catch {
            throw .invalidRecord(error)
        }
        let raw = RecordBody.bytes(of: content)
        // The record was valid: a failure here is the store's, not the client's.
        do {
            let packed = try compress(raw)
            return (raw.count, packed.dictionaryID, packed.bytes)
        } catch {
            throw .internalFault("compressing '\(id)' failed: \(error)")
        }
    }

    /// Appends encoded entries to the log; the caller holds the lock.
    private func append(_ bytes: [UInt8]) throws(StoreError) {
        do { try log.append(bytes) } catch { throw .storage(StorageError(error, operation: "write", path: log.path)) }
    }

    /// Validates, compresses and appends a put; returns the log position to wait for.
    private func appendPut(id: String, content: RecordContent, expectedVersion: UInt64?) throws(StoreError) -> (UInt64, (version: UInt64, updatedAt: Int64)) {
        let packed = try pack(id: id, content)
        let updatedAt = Int64(Date().timeIntervalSince1970 * 1000)
        // Tokenizing is the costly part of indexing: do it for the new version, and for the version
        // it replaces (to unindex it), before taking the lock, so both event loops can do it at once.
        let fields = RecordIndex.searchFields(content)
        let analyzed = SearchIndex.AnalyzedDocument(fields: fields)
        let replaced = state.withLock { $0.index.records[id] }.flatMap { old in
            (try? old.content(dictionaries)).map { oldContent in
                // A rewrite that leaves the searchable text as it was (a retried write, a
                // re-import) unindexes exactly the terms it indexes: one analysis serves both.
                let oldFields = RecordIndex.searchFields(oldContent)
                return (docID: old.docID, terms: oldFields == fields ? analyzed : SearchIndex.AnalyzedDocument(fields: oldFields))
            }
        }

        let (position, version) = try state.withLock { state throws(StoreError) -> (UInt64, UInt64) in
            // A deleted record does not exist (expected version 0 matches it), but its next version
            // follows the deleted one.
            let current = state.index.records[id]?.version ?? 0
            if let expectedVersion, expectedVersion != current {
                throw .conflict(id: id, expected: expectedVersion, actual: current)
            }
            let next = (state.index.records[id]?.version ?? state.index.tombstones[id]?.version ?? 0) + 1
            let entry = LogEntry.put(id: id, version: next, updatedAt: updatedAt, encoding: .zlib,
                                     dictionaryID: packed.dictionaryID, rawLength: UInt32(packed.raw), body: packed.bytes)
            let bytes = entry.encoded()
            let offset = log.size
            try append(bytes)
            state.index.apply(entry, size: bytes.count, at: offset, in: log.file, content: content, analyzed: analyzed,
                              replaced: replaced, logger: logger)
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
            guard let current = state.index.records[id] else { throw .notFound(id: id) }
            if let expectedVersion, expectedVersion != current.version {
                throw .conflict(id: id, expected: expectedVersion, actual: current.version)
            }
            let entry = LogEntry.delete(id: id, version: current.version, updatedAt: updatedAt)
            let bytes = entry.encoded()
            let offset = log.size
            try append(bytes)
            state.index.apply(entry, size: bytes.count, at: offset, in: log.file, logger: logger)
            state.writes += 1
            state.snapshotIsCurrent = false
            return (gate.noteAppended(bytes.count), current.version)
        }
        return (position, version)
    }

    // MARK: Backup

    /// Fixes what a BACKUP copies, in one short hold of the lock (writers wait only for a dup(2)
    /// and a copy-on-write copy of the index): the log's length now, the trained dictionaries now
    /// and the index now, for the backup's index snapshot (`Backup.Source.prepareSnapshot`).
    public func beginBackup() throws(StoreError) -> Backup.Source {
        try state.withLock { state throws(StoreError) -> Backup.Source in
            let fd = dup(log.fd)
            guard fd >= 0 else { throw .storage(.fromErrno("dup", log.path)) }
            return Backup.Source(logFD: fd, logLength: log.size, dictionaryIDs: dictionaries.trained.map(\.id),
                                 directory: configuration.dataDirectory, index: state.index)
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
                            completion: @escaping @Sendable (Result<ImportCounts, StoreError>) -> Void) {
        let prepared: [PreparedImport]
        switch prepare(items) {
        case .success(let all): prepared = all
        case .failure(let error): return completion(.failure(error))
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let outcome = Result { () throws(StoreError) -> (UInt64, ImportCounts) in
            try state.withLock { state throws(StoreError) -> (UInt64, ImportCounts) in
                // Versions as the batch leaves them so far (0: deleted), for ids it writes twice.
                var batchVersions: [String: UInt64] = [:]
                var entries: [(LogEntry, PreparedImport)] = []
                var counts = ImportCounts()
                for p in prepared {
                    let id = p.item.id
                    let current = batchVersions[id] ?? state.index.records[id]?.version ?? 0
                    let last = batchVersions[id] ?? state.index.records[id]?.version ?? state.index.tombstones[id]?.version ?? 0
                    if existing == .skip && current != 0 {
                        counts.skipped += 1
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
                    if current != 0 { counts.replaced += 1 } else { counts.new += 1 }
                    entries.append((LogEntry.put(id: id, version: next, updatedAt: p.item.updatedAt ?? now, encoding: .zlib,
                                                 dictionaryID: p.packed.dictionaryID, rawLength: UInt32(p.packed.raw), body: p.packed.bytes), p))
                }
                var encoded: [[UInt8]] = []
                encoded.reserveCapacity(entries.count)
                for (entry, _) in entries { encoded.append(entry.encoded()) }
                let bytes = encoded.reduce(into: [UInt8]()) { $0 += $1 }
                guard !bytes.isEmpty else { return (0, counts) }
                var offset = log.size
                try append(bytes)
                for ((entry, p), entryBytes) in zip(entries, encoded) {
                    state.index.apply(entry, size: entryBytes.count, at: offset, in: log.file, content: p.item.content,
                                      analyzed: p.analyzed, logger: logger)
                    offset += entryBytes.count
                }
                state.writes += entries.count
                state.snapshotIsCurrent = false
                return (gate.noteAppended(bytes.count), counts)
            }
        }
        switch outcome {
        case .failure(let error): completion(.failure(error))
        case .success(let (position, counts)):
            guard counts.written > 0 else { return completion(.success(counts)) }
            whenDurable(position) { error in completion(error.map { .failure($0) } ?? .success(counts)) }
        }
    }

    /// An IMPORT item ready to apply: its body packed, its text analysed.
    private struct PreparedImport: Sendable {
        var item: ImportItem
        var packed: (raw: Int, dictionaryID: UInt32, bytes: [UInt8])
        var analyzed: SearchIndex.AnalyzedDocument
    }

    /// Validates, compresses and analyses a batch before the lock, on every core: preparing is
    /// most of an import's CPU (deflate, tokenizing), and items are independent. Each worker takes
    /// one contiguous share; the result keeps batch order, and the error is the first item's in
    /// batch order that fails (as a one-by-one pass would report it).
    private func prepare(_ items: [ImportItem]) -> Result<[PreparedImport], StoreError> {
        let workers = min(items.count, ProcessInfo.processInfo.activeProcessorCount)
        guard workers > 1 else { return prepare(items[...]) }
        let share = (items.count + workers - 1) / workers
        let parts = Locked([Result<[PreparedImport], StoreError>?](repeating: nil, count: workers))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let part = prepare(items[min(worker * share, items.count)..<min((worker + 1) * share, items.count)])
            parts.withLock { $0[worker] = part }
        }
        var prepared: [PreparedImport] = []
        prepared.reserveCapacity(items.count)
        for part in parts.withLock({ $0 }) {
            switch part {
            case .success(let some)?: prepared += some
            case .failure(let error)?: return .failure(error)
            case nil: preconditionFailure("concurrentPerform returned before every worker ran")
            }
        }
        return .success(prepared)
    }

    /// `prepare` of one share, in order, stopping at its first failure.
    private func prepare(_ items: ArraySlice<ImportItem>) -> Result<[PreparedImport], StoreError> {
        var prepared: [PreparedImport] = []
        prepared.reserveCapacity(items.count)
        for item in items {
            let packed: (raw: Int, dictionaryID: UInt32, bytes: [UInt8])
            do {
                packed = try pack(id: item.id, item.content)
            } catch {
                // An invalid record is the line's fault; a failure to compress a valid one is not.
                if case .invalidRecord = error { return .failure(.importLine(line: item.line, error)) }
                return .failure(error)
            }
            prepared.append(PreparedImport(item: item, packed: packed,
                                           analyzed: SearchIndex.AnalyzedDocument(fields: RecordIndex.searchFields(item.content))))
        }
        return .success(prepared)
    }

    /// Calls `done` once the write at `position` is durable (nil) or cannot be (its error); after
    /// a durable write it asks for compaction or dictionary training when due.
    private func whenDurable(_ position: UInt64, _ done: @escaping @Sendable (StoreError?) -> Void) {
        gate.whenDurable(position) { [self] error in
            guard let error else {
                requestMaintenanceIfDue()
                return done(nil)
            }
            done(.storage(StorageError(error, operation: "fsync", path: log.path)))
        }
    }

    /// `whenDurable` for async callers.
    private func waitDurable(_ position: UInt64) async throws(StoreError) {
        let failure: StoreError? = await withCheckedContinuation { continuation in
            whenDurable(position) { continuation.resume(returning: $0) }
        }
        if let failure { throw failure }
    }

    // MARK: Reads

    public func record(id: String) -> StoredRecord? {
        state.withReadLock { $0.index.records[id] }
    }

    public func get(id: String) throws(StoreError) -> Record {
        guard let stored = record(id: id) else { throw .notFound(id: id) }
        return try decode(stored)
    }

    public func decode(_ stored: StoredRecord) throws(StoreError) -> Record {
        // A body that can't be read is a storage failure; only one that was read and won't decode is corrupt.
        let body = try stored.storedBody()
        do {
            return Record(id: stored.id, content: try stored.content(inflating: body, dictionaries), version: stored.version,
                          updatedAt: stored.updatedAt)
        } catch {
            throw .corruptRecord(id: stored.id)
        }
    }

    /// Records matching `filter`, ordered by id.
    public func query(_ filter: RecordFilter, limit: Int, offset: Int) -> (records: [StoredRecord], total: Int) {
        let filter = filter.folded
        return state.withReadLock { $0.index.query(filter, limit: limit, offset: offset) }
    }

    /// Hits `offset ..< offset + limit` of the query `text` (SearchQuery's syntax) within
    /// `filter`, best first, and the number of all matches. When nothing matches, `suggestions`
    /// has the closest known word for each unknown one; with `fuzzy`, the query is then run again
    /// with those words in place of the unknown ones (and the suggestions still say which).
    public func search(_ text: String, filter: RecordFilter, limit: Int, offset: Int = 0, fuzzy: Bool = false) throws(SearchQuerySyntaxError)
        -> (results: [SearchHit], total: Int, suggestions: [String]) {
        let query = try SearchQuery(parsing: text)
        let filter = filter.folded
        // Ranking reads only the index, under the lock; snippets need the text of the hits only,
        // inflated outside it.
        let found = state.withReadLock { $0.index.find(query, filter: filter, limit: limit, offset: offset, fuzzy: fuzzy) }
        var suggestions: [String] = []
        for (stem, example) in found.suggested {
            let fields = (example.flatMap { try? $0.content(dictionaries) }).map(RecordIndex.searchFields) ?? []
            let word = fields.lazy.flatMap(Unicode61Tokenizer.terms).first { PorterStemmer.stem($0) == stem } ?? stem
            if !suggestions.contains(word) { suggestions.append(word) }
        }
        let matcher = SnippetMatcher(found.query)
        let results = found.hits.map { stored, score in
            let content = try? stored.content(dictionaries)
            let snippet = content.map { SearchIndex.snippet(fields: RecordIndex.searchFields($0), matching: matcher) } ?? ""
            return SearchHit(id: stored.id, score: score, film: stored.film, subject: stored.subject, snippet: snippet)
        }
        return (results, found.total, suggestions)
    }

    /// Every live record matching `filter` at one moment, ordered by id (UTF-8 byte order), for
    /// EXPORT. The matching records are copied in one hold of the lock, so the set is exactly the
    /// writes applied before that moment (every acknowledged one; none after). Bodies are not
    /// copied: each `StoredRecord` says where its body is in the log file of that moment, which
    /// stays open and unchanged while the export holds it, even if a compaction replaces the
    /// log meanwhile (`LogFile`). So this costs about a hundred bytes a record, and bodies are
    /// read a chunk at a time by whoever streams them. Sorted off the lock.
    public func exportRecords(_ filter: RecordFilter) -> [StoredRecord] {
        let filter = filter.folded
        let taken = state.withReadLock { $0.index.matching(filter) }
        return taken.sorted { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
    }

    /// One row per film in UTF-8 byte order of the title (see `RecordIndex.films`).
    public func films() -> [FilmSummary] {
        state.withReadLock { $0.index.films() }
    }

    public func themes(film: String?) -> [ThemeCount] {
        state.withReadLock { $0.index.themes(film: film) }
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
        return state.withReadLock { state in
            Figures(records: state.index.records.count, rawBytes: state.index.rawBytes, storedBytes: state.index.storedBytes,
                    logBytes: log.size, liveLogBytes: state.index.liveLogBytes + RecordLog.header.count,
                    writes: state.writes, compactions: state.compactions, fsyncs: fsyncs,
                    dictionaryBytes: state.dictionaryFileBytes, dictionaryID: dictionaries.newest.id)
        }
    }

    // MARK: Index snapshot

    /// Writes `index.snapshot` unless it is already current. The index is copied under the lock
    /// (copy-on-write: cheap) and serialised outside it.
    func saveIndexSnapshot() {
        let taken = state.withLock { state -> (RecordIndex, Int)? in
            guard !state.snapshotIsCurrent, !state.compacting else { return nil }
            state.snapshotIsCurrent = true
            return (state.index, log.size)
        }
        guard let (index, logSize) = taken else { return }
        do {
            try IndexSnapshot(of: index, logSize: logSize).write(to: configuration.dataDirectory)
        } catch {
            state.withLock { $0.snapshotIsCurrent = false }
            logger.error("could not save the index snapshot; the next start-up rebuilds the indexes", metadata: ["error": "\(error)"])
        }
    }
}
