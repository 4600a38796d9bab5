import EpilogueShared
import EpilogueTestSupport
import Foundation
import Testing
/// The store on a tiny filesystem that fills up: writes fail with STORAGE_FULL at the gateway,
/// reads go on, nothing stored is damaged, and writes work again once space is freed — without
/// a restart. Mounting the 512 KiB tmpfs needs root (the test's name says so); the store itself
/// runs unprivileged on it. Without root the test is skipped with that reason.
@Suite(.serialized, .requires(.root)) struct DiskFaultTests {
    @Test(.timeLimit(.minutes(2)))
    func asRootForATmpfsMountFullDiskGivesStorageFullAndRecoversWhenSpaceIsFreed() async throws {
        try Prerequisite.check(.root)
        let mountPoint = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(mountPoint) }
        try #require(Self.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mountPoint]) == 0, "mount -t tmpfs failed (as root)")
        defer { _ = Self.run(["umount", "-l", mountPoint]) }
        let dataDir = mountPoint + "/data"
        // Most of the space goes to a filler file we can delete later to "free space".
        let filler = mountPoint + "/filler"
        _ = FileManager.default.createFile(atPath: filler, contents: Data(count: 380 * 1024))

        let store = try await StoreProcess(directory: dataDir)
        defer { store.stop() }
        try await store.waitUntilServing()
        try await withGateway(storePort: store.port) { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                var written: [String] = []
                var full: TextReply?
                for i in 0..<2_000 {
                    // Incompressible-ish readings so the disk fills quickly.
                    var rng = SplitMix64(seed: UInt64(i))
                    let noise = (0..<1_500).map { _ in String(UnicodeScalar(UInt8(97 + rng.next() % 26))) }.joined()
                    let reply = try await c.command(#"PUT full/\#(i) film=F year=2000 director=D subject=s reading="\#(noise)" source=x sourceKind=critic"#)
                    if reply.isOK { written.append("full/\(i)") } else { full = reply; break }
                }
                #expect(full?.errorCode == "STORAGE_FULL", "expected STORAGE_FULL, got \(String(describing: full))")
                #expect(written.count > 10)
                // Reads keep working and nothing already stored is damaged.
                for id in written { #expect(try await c.command("GET \(id)").isOK, "\(id) unreadable while full") }
                #expect(try await c.command("SEARCH F").isOK)
                // Free space: writes work again, no restart.
                try FileManager.default.removeItem(atPath: filler)
                let again = try await c.command(#"PUT after/1 film=F year=2000 director=D subject=s reading="space again" source=x sourceKind=critic"#)
                #expect(again.isOK, "write after freeing space: \(again)")
                let stats = try await c.command("STATS")
                #expect(stats.body.contains { $0.hasPrefix("store_records ") && $0.hasSuffix(" \(written.count + 1)") }, "\(stats)")
            }
        }
        store.stop()
        // And the log recovers whole after all that.
        let reopened = try await TestSupport.openStore(dataDir)
        defer { reopened.close() }
        #expect(reopened.recovery.discardedBytes == 0)
        #expect(try reopened.get(id: "after/1").content.reading == "space again")
    }

    static func run(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
