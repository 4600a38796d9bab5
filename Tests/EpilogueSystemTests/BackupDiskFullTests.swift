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
        try await withStoreClient(port: store.port) { client in
            for i in 0..<400 {
                var rng = SplitMix64(seed: UInt64(i))
                let noise = (0..<1_500).map { _ in String(UnicodeScalar(UInt8(97 + rng.next() % 26))) }.joined()
                try await client.put(id: "big/\(i)", content: TestSupport.content(reading: noise))
            }
            let outcome = try await StoreClientCommand.run(["backup", "--store", "127.0.0.1:\(store.port)", "--to", mountPoint + "/copy"])
            print("BackupDiskFullTests: backup said: \(outcome.stderr)")
            #expect(outcome.status == 2)
            #expect(outcome.stderr.contains("no space left") || outcome.stderr.contains("No space left"), "\(outcome.stderr)")
            #expect(FileManager.default.fileExists(atPath: mountPoint + "/copy/" + Backup.incompleteName))
            #expect(!FileManager.default.fileExists(atPath: mountPoint + "/copy/" + Backup.manifestName))
            // The store is untouched and serves reads and writes.
            guard (try? await client.put(id: "after", content: TestSupport.content())) != nil else {
                Issue.record("the store stopped taking writes"); return
            }
            guard (try? await client.get(id: "big/399")) != nil else { Issue.record("the store stopped serving reads"); return }
        }
        await #expect(throws: StorageError.self) { _ = try await TestSupport.openStore(mountPoint + "/copy") }
    }
}
