import EpilogueProtocol
import EpilogueModel
import EpilogueShared
@testable import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore
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
        let client = StoreClient(configuration: .init(host: "127.0.0.1", port: store.port, connections: 8, requestTimeout: .seconds(10)),
                                 logger: TestSupport.logger)
        client.start()
        defer { client.shutdown() }
        _ = await client.waitUntilConnected(timeout: .seconds(3))
        let writers = acks.startWriters(8, keys: 100, until: stop) { id, content in
            try? await client.put(id: id, content: content).version
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
        try await withStoreClient(port: restored.port) { check in
            var latest: [String: UInt64] = [:]
            for (id, version) in before { latest[id] = max(latest[id] ?? 0, version) }
            for (id, version) in latest {
                guard let record = try? await check.get(id: id) else {
                    Issue.record("\(id), acknowledged at version \(version) before the backup, is missing"); continue
                }
                #expect(record.version >= version, "\(id): backup has v\(record.version), v\(version) was acknowledged before it")
            }
        }
    }
}
