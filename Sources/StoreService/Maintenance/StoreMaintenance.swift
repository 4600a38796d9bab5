import EpilogueCompression
import EpilogueModel
import EpilogueShared
import Foundation

/// The store's background jobs: log compaction and dictionary training, asked for by writes (or
/// start-up) and done by `RecordStore.run()` in a task group, so none outlives the store: at
/// shutdown jobs not yet started are dropped and the running ones are awaited.
///
/// Asking is cheap and never blocks: a write's completion (on the fsync thread) only yields to a
/// stream. A job asked for while the same kind is pending is dropped (`pending`).
final class StoreMaintenance: Sendable {
    enum Job: Sendable, Hashable {
        /// Rewrite the log with only the live records (and re-compress old bodies).
        case compaction
        /// Train a compression dictionary on the live records, then compact.
        case training
    }

    private let jobs: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    /// Jobs asked for and not yet started.
    private let pending = Locked(Set<Job>())

    init() {
        (jobs, continuation) = AsyncStream.makeStream(of: Job.self)
    }

    /// Asks for `job`; false when it is already pending or maintenance has finished.
    @discardableResult
    func request(_ job: Job) -> Bool {
        guard pending.withLock({ $0.insert(job).inserted }) else { return false }
        if case .terminated = continuation.yield(job) {
            pending.withLock { _ = $0.remove(job) }
            return false
        }
        return true
    }

    /// Stops taking jobs: `run` returns once the running ones are done.
    func finish() {
        continuation.finish()
    }

    /// Does each job asked for, each in a child task (a compaction may run while a dictionary is
    /// trained; two of a kind never run at once), until `finish()` or cancellation.
    func run(_ perform: @escaping @Sendable (Job) -> Void) async {
        await withDiscardingTaskGroup { group in
            for await job in jobs {
                pending.withLock { _ = $0.remove(job) }
                group.addTask {
                    guard !Task.isCancelled else { return }
                    perform(job)
                }
            }
        }
    }
}

extension RecordStore {
    /// After a durable write: asks for compaction when dead bytes exceed `compactionRatio` of the
    /// log (and 1 MiB), and for training when `DictionaryPolicy` says it is due.
    func requestMaintenanceIfDue() {
        let (compaction, training) = state.withLock { state -> (Bool, Bool) in
            let dead = log.size - state.index.liveLogBytes - RecordLog.header.count
            let compaction = !state.compacting && dead > 1 << 20 && Double(dead) > configuration.compactionRatio * Double(log.size)
            let training = configuration.dictionaryTraining.map {
                !state.training && $0.isDue(liveRecords: state.index.records.count, trainedOn: state.trainedOn)
            } ?? false
            return (compaction, training)
        }
        if compaction { maintenance.request(.compaction) }
        if training { maintenance.request(.training) }
    }

    /// One maintenance job, on a child task of `run()`.
    func perform(_ job: StoreMaintenance.Job) {
        switch job {
        case .compaction:
            do { try compact() } catch { logger.error("compaction failed", metadata: ["error": "\(error)"]) }
        case .training:
            do {
                let sampleBytes = configuration.dictionaryTraining?.sampleBytes ?? DictionaryPolicy().sampleBytes
                if try trainDictionary(sampleBytes: sampleBytes) != nil { try compact() }
            } catch {
                logger.error("dictionary training failed", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: Dictionary training

    /// Trains a dictionary on the live records now, makes it durable, and has new writes use it.
    /// Returns its id (nil when there is nothing to train on, or a training is running).
    /// `compact()` then moves old bodies to it.
    @discardableResult
    public func trainDictionary(sampleBytes: Int = DictionaryPolicy().sampleBytes) throws -> UInt32? {
        let started = state.withLock { state -> Bool in
            guard !state.training else { return false }
            state.training = true
            return true
        }
        guard started else { return nil }
        defer { state.withLock { $0.training = false } }
        // Every n-th live record, so the sample spans the whole store; copied under the lock, inflated outside it.
        let (picked, live) = state.withLock { state -> ([StoredRecord], Int) in
            let records = state.index.records
            let averageRaw = max(1, state.index.rawBytes / max(1, records.count))
            let stride = max(1, records.count / max(1, sampleBytes / averageRaw))
            var picked: [StoredRecord] = []
            for (index, record) in records.values.enumerated() where index % stride == 0 { picked.append(record) }
            return (picked, records.count)
        }
        let samples = picked.sorted { $0.docID < $1.docID }.compactMap { try? dictionaries.decompress($0.storedBody(), dictionaryID: $0.dictionaryID) }
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

    // MARK: Compaction

    /// Rewrites the log with only live records, then saves an index snapshot of the new log.
    /// Reads never wait for it; writes wait only for the final swap, which copies the few entries
    /// appended while the live ones were written. Does nothing while another compaction runs.
    public func compact() throws {
        let started = state.withLock { state -> Bool in
            guard !state.compacting else { return false }
            state.compacting = true
            return true
        }
        guard started else { return }
        do {
            defer { state.withLock { $0.compacting = false } }
            try rewriteLog()
        }
        // The old snapshot described the old log; without a new one a crash would mean a rebuild.
        saveIndexSnapshot()
    }

    /// Bytes of entries gathered before each write to the compaction file.
    static let compactionChunk = 4 << 20

    private func rewriteLog() throws {
        let (live, tombstones, rewrittenUpTo) = state.withLock { state -> ([StoredRecord], [(String, RecordIndex.Tombstone)], Int) in
            (state.index.records.values.sorted { $0.docID < $1.docID }, state.index.tombstones.sorted { $0.key < $1.key }, log.size)
        }
        // Bodies are read from the log and those compressed with an older dictionary are
        // re-compressed with the newest, outside the lock; where each lands goes in `moved`.
        let newest = dictionaries.newest.id
        var moved: [UInt32: RecordIndex.Relocation] = [:]
        moved.reserveCapacity(live.count)
        var compaction = try log.startCompactionFile()
        do {
            var chunk: [UInt8] = []
            /// Where in the new file `entry` ends (its body is the last thing in it), and its size.
            func add(_ entry: LogEntry) throws -> (end: Int, size: Int) {
                let encoded = entry.encoded()
                chunk += encoded
                let end = compaction.size + chunk.count
                if chunk.count >= Self.compactionChunk {
                    try log.appendToCompactionFile(chunk, &compaction)
                    chunk.removeAll(keepingCapacity: true)
                }
                return (end, encoded.count)
            }
            for record in live {
                var entry = LogEntry.put(id: record.id, version: record.version, updatedAt: record.updatedAt, encoding: .zlib,
                                         dictionaryID: record.dictionaryID, rawLength: record.rawLength, body: try record.storedBody())
                if record.dictionaryID != newest, newest >= DictionarySet.firstTrainedID,
                   let raw = try? dictionaries.decompress(entry.body, dictionaryID: record.dictionaryID),
                   let packed = try? dictionaries.compress(raw), packed.dictionaryID == newest {
                    entry.dictionaryID = packed.dictionaryID
                    entry.body = packed.bytes
                }
                let (end, size) = try add(entry)
                moved[record.docID] = RecordIndex.Relocation(offset: UInt64(end - entry.body.count), count: UInt32(entry.body.count),
                                                             dictionaryID: entry.dictionaryID, logBytes: UInt32(size))
            }
            // Deleted ids keep their last version (see Tombstone): one delete entry each.
            for (id, tombstone) in tombstones {
                _ = try add(LogEntry.delete(id: id, version: tombstone.version, updatedAt: tombstone.updatedAt))
            }
            try log.appendToCompactionFile(chunk, &compaction)
            try log.syncCompactionFile(compaction)
        } catch {
            log.abandonCompactionFile(compaction)
            throw error
        }
        let (before, after, released, held): (Int, Int, DurabilityGate.Released, Duration)
        do {
            (before, after, released, held) = try state.withLock { state in
                // How long reads and writes wait for the swap: the tail's write and fsync, the rename.
                let locked = ContinuousClock.now
                let before = log.size
                let tail = try log.bytes(from: rewrittenUpTo)
                let released = try gate.withSyncPaused {
                    try log.installCompactionFile(compaction, tail: tail)
                }
                state.compactions += 1
                state.snapshotIsCurrent = false
                // Every record's body is now read from the new file: the copied ones where they
                // were written (re-compressed or not), those appended meanwhile after them.
                state.index.relocate(to: log.file, moved: moved, tailStart: rewrittenUpTo, tailShift: compaction.size - rewrittenUpTo)
                return (before, log.size, released, ContinuousClock.now - locked)
            }
        } catch {
            log.abandonCompactionFile(compaction)
            throw error
        }
        // Writers waiting for an fsync the new file made unnecessary; their callbacks may take the lock.
        released.resume()
        logger.info("compacted the record log", metadata: ["bytes_before": "\(before)", "bytes_after": "\(after)",
                                                           "lock_held_ms": "\(held.components.seconds * 1000 + held.components.attoseconds / 1_000_000_000_000_000)"])
    }
}
