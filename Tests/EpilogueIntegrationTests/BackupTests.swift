import EpilogueProtocol
import EpilogueModel
import EpilogueShared
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore
@Suite struct BackupTests {
    /// A BACKUP through a `StoreClient` into `directory`, as `epilogue-store backup` does.
    static func backup(port: Int, to directory: String) async throws -> [BackupFile] {
        try await withStoreClient(port: port) { client in
            let writer = try BackupWriter(directory: directory)
            let box = LockedBackupWriter(writer)
            let files = try await client.backup { file, offset, data in box.receive(file: file, offset: offset, bytes: Array(buffer: data)) }
            try box.finish(files: files)
            return writer.files
        }
    }

    @Test func backupWhileWritersRunHoldsEveryWriteAcknowledgedBeforeItAndRestoresToTheSameAnswers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let copy = dir + "/copy"
        try await withStoreServer(directory: dir + "/data", dataset: true) { port, store in
            let acks = AckLog()
            let stop = ManagedAtomicFlag()
            let writers = acks.startWriters(8, keys: 50, until: stop) { id, content in
                try? await store.put(id: id, content: content, expectedVersion: nil).version
            }
            while acks.count < 300 { try await Task.sleep(for: .milliseconds(5)) }
            let point = ContinuousClock.now
            let files = try await Self.backup(port: port, to: copy)
            let afterBackup = ContinuousClock.now
            stop.set()
            await writers.value
            #expect(files.contains { $0.name == "records.log" })
            #expect(FileManager.default.fileExists(atPath: copy + "/" + Backup.manifestName))
            #expect(!FileManager.default.fileExists(atPath: copy + "/" + Backup.incompleteName))

            let restored = try await TestSupport.openStore(copy)
            defer { restored.close() }
            #expect(!FileManager.default.fileExists(atPath: copy + "/" + Backup.manifestName), "a started copy is an ordinary data directory")
            for (id, version) in acks.before(point) {
                let got = try? restored.get(id: id)
                #expect((got?.version ?? 0) >= version, "\(id) v\(version), acknowledged before the backup, is missing from it")
            }
            // Nothing sent after the backup answered is in it.
            for (id, version) in acks.sent(after: afterBackup) {
                #expect((try? restored.get(id: id).version) ?? 0 < version, "\(id) v\(version) was written after the backup")
            }
            // Bundled-dataset answers are the same.
            for id in store.query(RecordFilter(), limit: 1_000, offset: 0).records.map(\.id) where !id.hasPrefix("w") {
                #expect(try restored.get(id: id) == store.get(id: id))
            }
            let filter = RecordFilter(film: "La La Land")
            #expect(restored.query(filter, limit: 100, offset: 0).records.map(\.id) == store.query(filter, limit: 100, offset: 0).records.map(\.id))
            let restoredHits = try restored.search("dream", filter: RecordFilter(), limit: 10).results.map(\.id)
            let originalHits = try store.search("dream", filter: RecordFilter(), limit: 10).results.map(\.id)
            #expect(!originalHits.isEmpty)
            #expect(restoredHits == originalHits)
        }
    }

    @Test func aDamagedOrIncompleteBackupIsRefusedNamingTheFileAndOffset() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir + "/data", dataset: true) { port, _ in
            for name in ["flipped", "cut", "unfinished"] { _ = try await Self.backup(port: port, to: dir + "/" + name) }
        }
        let log = "/records.log"
        // A flipped byte inside the tenth entry's body.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/flipped" + log)))
        var offset = 8
        for _ in 0..<9 { offset += 8 + Int(UInt32(bigEndian: bytes[(offset + 4)..<(offset + 8)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })) }
        bytes[offset + 30] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/flipped" + log))
        await #expect(throws: StorageError.damagedBackup(path: dir + "/flipped" + log, offset: offset, reason: "checksum mismatch")) {
            _ = try await TestSupport.openStore(dir + "/flipped")
        }
        // Cut short.
        let full = try Data(contentsOf: URL(fileURLWithPath: dir + "/cut" + log))
        try full.prefix(full.count - 10).write(to: URL(fileURLWithPath: dir + "/cut" + log))
        do {
            _ = try await TestSupport.openStore(dir + "/cut")
            Issue.record("a cut backup must be refused")
        } catch let error as StorageError {
            #expect(error.description.contains(dir + "/cut" + log))
            #expect(error.description.contains("bytes, the manifest says \(full.count)"))
        }
        // Never finished.
        _ = FileManager.default.createFile(atPath: dir + "/unfinished/" + Backup.incompleteName, contents: Data())
        do {
            _ = try await TestSupport.openStore(dir + "/unfinished")
            Issue.record("an unfinished backup must be refused")
        } catch let error as StorageError {
            #expect(error.description.contains("never finished"))
        }
        // The refusals changed nothing: the damaged copy is still refused the next time.
        await #expect(throws: StorageError.self) { _ = try await TestSupport.openStore(dir + "/flipped") }
    }

    @Test func backupIntoADirectoryThatIsNotEmptyIsRefusedBeforeAnythingIsCopied() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        _ = FileManager.default.createFile(atPath: dir + "/something", contents: Data())
        #expect(throws: StorageError.self) { _ = try BackupWriter(directory: dir) }
    }

    // MARK: The backup's index snapshot

    /// Records, FIND and SEARCH answers of a store, to compare a restored copy with its source.
    struct Answers: Equatable {
        var records: [Record]
        var finds: [[String]]
        var searches: [[SearchHit]]

        init(_ store: RecordStore) throws {
            let ids = store.query(RecordFilter(), limit: 1_000, offset: 0).records.map(\.id)
            records = try ids.map { try store.get(id: $0) }
            finds = [RecordFilter(film: "La La Land"), RecordFilter(film: "A Real Pain"), RecordFilter(theme: "what-if")].map {
                store.query($0, limit: 1_000, offset: 0).records.map(\.id)
            }
            searches = try ["dream", "montage OR jazz", "\"what if\"", "sacr*", "reading NOT dream"].map {
                try store.search($0, filter: RecordFilter(), limit: 50).results
            }
        }
    }

    static func putNumbered(_ store: RecordStore, prefix: String, count: Int) async throws {
        for n in 0..<count {
            _ = try await store.put(id: "\(prefix)/\(n)", content: TestSupport.content(film: n % 3 == 0 ? "A Real Pain" : "La La Land",
                                                                                reading: "reading \(n): a dream of jazz number \(n % 17)"),
                                    expectedVersion: nil)
        }
    }

    /// A served store holding the bundled dataset and `count` numbered records, and a path for its backup.
    static func withNumberedStore(_ count: Int, _ body: @Sendable (_ copy: String, _ port: Int, _ store: RecordStore) async throws -> Void) async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir + "/data", dataset: true) { port, store in
            try await putNumbered(store, prefix: "snap", count: count)
            try await body(dir + "/copy", port, store)
        }
    }

    @Test func aRestoredBackupStartsFromItsIndexSnapshotAndAnswersGetFindAndSearchAsTheSource() async throws {
        try await Self.withNumberedStore(300) { copy, port, store in
            _ = try await store.delete(id: "snap/7", expectedVersion: nil)
            _ = try await store.put(id: "snap/8", content: TestSupport.content(reading: "written again"), expectedVersion: nil)
            let files = try await Self.backup(port: port, to: copy)
            #expect(files.map(\.name).contains(IndexSnapshot.fileName))
            let source = try Answers(store)
            // A write after the backup is in neither its log nor its snapshot.
            _ = try await store.put(id: "after/1", content: TestSupport.content(reading: "a dream after the backup"), expectedVersion: nil)

            let restored = try await TestSupport.openStore(copy)
            defer { restored.close() }
            #expect(restored.recovery.usedIndexSnapshot)
            #expect(restored.recovery.entriesAfterSnapshot == 0, "the snapshot covers the backup's whole log")
            #expect((try? restored.get(id: "after/1")) == nil)
            #expect(source.records.count == 58 + 299)
            #expect(source.searches.allSatisfy { !$0.isEmpty } && source.finds.allSatisfy { !$0.isEmpty })
            #expect(try Answers(restored) == source)
        }
    }

    @Test func aDamagedIndexSnapshotInABackupIsRefusedAndWithoutItTheBackupRestoresByRebuilding() async throws {
        try await Self.withNumberedStore(100) { copy, port, store in
            _ = try await Self.backup(port: port, to: copy)
            let path = copy + "/" + IndexSnapshot.fileName
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x40
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try await TestSupport.openStore(copy)
                Issue.record("a backup with a damaged index snapshot must be refused")
            } catch let error as StorageError {
                #expect(error.description.contains(path) && error.description.contains("CRC-32 differs"), "\(error)")
                #expect(error.description.contains("delete it to restore without it"), "\(error)")
            }
            // The snapshot is only a cache: deleted, the backup restores, rebuilding the indexes.
            try FileManager.default.removeItem(atPath: path)
            let restored = try await TestSupport.openStore(copy)
            defer { restored.close() }
            #expect(!restored.recovery.usedIndexSnapshot)
            #expect(try Answers(restored) == Answers(store))
        }
    }

    @Test func aBackupsSnapshotDescribesTheLogItCopiesWhenACompactionRenamesANewLogInMeanwhile() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let copy = dir + "/copy"
        let store = try await TestSupport.openStore(dir + "/data", dataset: true)
        defer { store.close() }
        try await Self.putNumbered(store, prefix: "gen", count: 200)
        try await Self.putNumbered(store, prefix: "gen", count: 150)  // dead bytes for the compaction
        for n in 0..<20 { _ = try await store.delete(id: "gen/\(n)", expectedVersion: nil) }
        // The backup's moment: then a compaction rewrites the log (a new file, new offsets) and
        // writes go on, before the backup's snapshot is even written.
        let source = try store.beginBackup()
        let atBackup = try Answers(store)
        let logBefore = try FileManager.default.attributesOfItem(atPath: dir + "/data/records.log")[.size] as? Int
        try store.compact()
        #expect(try FileManager.default.attributesOfItem(atPath: dir + "/data/records.log")[.size] as? Int != logBefore, "compaction rewrote the log")
        try await Self.putNumbered(store, prefix: "later", count: 30)
        _ = try await store.delete(id: "gen/100", expectedVersion: nil)
        #expect(source.prepareSnapshot() == nil)

        let writer = try BackupWriter(directory: copy)
        var reader = BackupReader(source: source)
        pieces: while true {
            for piece in reader.nextPieces(maximum: 4) {
                switch piece {
                case .chunk(let file, let offset, let bytes): try writer.receive(file: file, offset: offset, bytes: bytes)
                case .end(let files): try writer.finish(files: files); break pieces
                case .failed(let reason): Issue.record("backup failed: \(reason)"); return
                }
            }
        }
        #expect(writer.files.map(\.name) == ["records.log", IndexSnapshot.fileName])
        let restored = try await TestSupport.openStore(copy)
        defer { restored.close() }
        #expect(restored.recovery.usedIndexSnapshot)
        #expect(restored.recovery.entriesAfterSnapshot == 0)
        #expect(try Answers(restored) == atBackup)
    }
}
