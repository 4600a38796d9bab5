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
}
