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
        // The crash suite's own check, on what was acknowledged before the backup started.
        let known = acks.writtenKeys(asOf: point)
        #expect(acks.before(point).count >= 500)
        let problems = try await AcknowledgedWriteCheck.verify(known, port: restored.port)
        #expect(problems.isEmpty, "the restored backup lost acknowledged writes: \(problems.prefix(10))")
    }
}
