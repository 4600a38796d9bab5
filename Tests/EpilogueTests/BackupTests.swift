import EpilogueProtocol
import EpilogueModel
import EpilogueStoreClient
import Foundation
import NIOCore
import Testing
@testable import EpilogueStore
#if canImport(Glibc)
import Glibc
#endif

/// Acknowledged writes, shared by writer tasks.
final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var acked: [(id: String, version: UInt64, at: ContinuousClock.Instant)] = []
    func add(_ id: String, _ version: UInt64) { lock.lock(); acked.append((id, version, .now)); lock.unlock() }
    func before(_ instant: ContinuousClock.Instant) -> [(id: String, version: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        return acked.filter { $0.at < instant }.map { ($0.id, $0.version) }
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return acked.count }
}

@Suite struct BackupTests {
    /// A BACKUP through a pool into `directory`, as `epilogue-store backup` does.
    static func backup(port: Int, to directory: String) async throws -> [BackupFile] {
        try await ImportTests.withPool(port: port) { pool in
            let writer = try BackupWriter(directory: directory)
            let box = LockedBackupWriter(writer)
            let answer = try await pool.send(.backup, onFrame: { box.receive($0) }).get()
            try box.finish(answer.last!)
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
            let writers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for w in 0..<8 {
                        group.addTask {
                            var n = 0
                            while !stop.isSet {
                                let id = "w\(w)/\(n % 50)"
                                if let written = try? await store.put(id: id, content: TestSupport.content(film: "Writers Room", reading: "writer \(w) write \(n)"), expectedVersion: nil) {
                                    acks.add(id, written.version)
                                }
                                n += 1
                            }
                        }
                    }
                }
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
            // Nothing written after the backup answered is in it.
            for (id, version) in acks.before(.now) where !acks.before(afterBackup).contains(where: { $0.id == id && $0.version == version }) {
                #expect((try? restored.get(id: id).version) ?? 0 < version, "\(id) v\(version) was written after the backup")
            }
            // Bundled-dataset answers are the same.
            for id in store.ids(limit: 1_000) where !id.hasPrefix("w") {
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

/// A flag set once, read by many tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

@Suite struct BackupProcessTests {
    @Test(.timeLimit(.minutes(3)))
    func backupCommandWhileEightWritersRunThenSIGKILLRestoresEveryWriteAcknowledgedBeforeIt() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        Unprivileged.grant(dir)
        let store = try await StoreProcess(directory: dir + "/data")
        defer { store.stop() }
        try await store.waitUntilServing()
        let acks = AckLog()
        let stop = ManagedAtomicFlag()
        let pool = StorePool(configuration: .init(host: "127.0.0.1", port: store.port, connections: 8, requestTimeout: .seconds(10)),
                             logger: TestSupport.logger)
        pool.start()
        defer { pool.shutdown() }
        for _ in 0..<300 where !pool.isConnected { try await Task.sleep(for: .milliseconds(10)) }
        let writers = Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<8 {
                    group.addTask {
                        var n = 0
                        while !stop.isSet {
                            let id = "w\(w)/\(n % 100)"
                            let content = TestSupport.content(film: "Writers Room", reading: "writer \(w) write \(n)")
                            if case .written(_, let version, _)? = try? await pool.request(.put(id: id, content: content, expectedVersion: nil)).first {
                                acks.add(id, version)
                            }
                            n += 1
                        }
                    }
                }
            }
        }
        while acks.count < 500 { try await Task.sleep(for: .milliseconds(5)) }
        let point = ContinuousClock.now
        let outcome = try await StoreClientCommand.run(["backup", "--store", "127.0.0.1:\(store.port)", "--to", dir + "/copy"])
        store.kill()
        stop.set()
        await writers.value
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("backup of 127.0.0.1:\(store.port) in \(dir)/copy: "), "\(outcome.stdout)")
        print("BackupProcessTests: \(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)); \(acks.count) writes acknowledged in all")

        let restored = try await StoreProcess(directory: dir + "/copy")
        defer { restored.stop() }
        try await restored.waitUntilServing()
        let before = acks.before(point)
        #expect(before.count >= 500)
        try await ImportTests.withPool(port: restored.port) { check in
            var latest: [String: UInt64] = [:]
            for (id, version) in before { latest[id] = max(latest[id] ?? 0, version) }
            for (id, version) in latest {
                guard case .record(let record)? = try await check.request(.get(id: id)).first else {
                    Issue.record("\(id), acknowledged at version \(version) before the backup, is missing"); continue
                }
                #expect(record.version >= version, "\(id): backup has v\(record.version), v\(version) was acknowledged before it")
            }
        }
    }
}

/// A backup onto a filesystem that fills up: a clear error, the copy keeps `backup.incomplete`
/// (so it never looks complete and no store starts on it), and the store keeps serving. Mounting
/// the tmpfs needs root; without it the test is skipped with that reason (like DiskFaultTests).
@Suite(.serialized, .requires(.root)) struct BackupDiskFullTests {
    @Test(.timeLimit(.minutes(2)))
    func asRootForATmpfsMountBackupOntoAFullDiskFailsClearlyLeavesNoCompleteLookingCopyAndTheStoreServes() async throws {
        try Prerequisite.check(.root)
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let mountPoint = dir + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(DiskFaultTests.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint]) == 0, "mount -t tmpfs failed (as root)")
        defer { _ = DiskFaultTests.run(["umount", "-l", mountPoint]) }
        Unprivileged.grant(dir)
        let store = try await StoreProcess(directory: dir + "/data")
        defer { store.stop() }
        try await store.waitUntilServing()
        try await ImportTests.withPool(port: store.port) { pool in
            for i in 0..<400 {
                var rng = SplitMix64(seed: UInt64(i))
                let noise = (0..<1_500).map { _ in String(UnicodeScalar(UInt8(97 + rng.next() % 26))) }.joined()
                _ = try await pool.request(.put(id: "big/\(i)", content: TestSupport.content(reading: noise), expectedVersion: nil))
            }
            let outcome = try await StoreClientCommand.run(["backup", "--store", "127.0.0.1:\(store.port)", "--to", mountPoint + "/copy"])
            print("BackupDiskFullTests: backup said: \(outcome.stderr)")
            #expect(outcome.status == 2)
            #expect(outcome.stderr.contains("no space left") || outcome.stderr.contains("No space left"), "\(outcome.stderr)")
            #expect(FileManager.default.fileExists(atPath: mountPoint + "/copy/" + Backup.incompleteName))
            #expect(!FileManager.default.fileExists(atPath: mountPoint + "/copy/" + Backup.manifestName))
            // The store is untouched and serves reads and writes.
            guard case .written? = try await pool.request(.put(id: "after", content: TestSupport.content(), expectedVersion: nil)).first else {
                Issue.record("the store stopped taking writes"); return
            }
            guard case .record? = try await pool.request(.get(id: "big/399")).first else { Issue.record("the store stopped serving reads"); return }
        }
        await #expect(throws: StorageError.self) { _ = try await TestSupport.openStore(mountPoint + "/copy") }
    }
}
