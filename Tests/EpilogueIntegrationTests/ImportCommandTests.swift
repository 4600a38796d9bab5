import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct ImportCommandTests {
    @Test func importCommandImportsTheGoodLinesReportsTheBadOnesAndExitsOne() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let lines = (0..<2_500).map { ImportTests.line("cli/\($0)") } + ["not json"] + [ImportTests.line("cli/last")]
        let path = ImportTests.write(Array(lines.joined(separator: "\n").utf8), in: dir)
        Unprivileged.grant(dir)
        let store = try await StoreProcess(directory: dir + "/data")
        defer { store.stop() }
        try await store.waitUntilServing()
        let outcome = try await StoreClientCommand.run(["import", path, "--store", "127.0.0.1:\(store.port)", "--batch", "1000"])
        #expect(outcome.status == 1, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("line 2501: not a JSON object"))
        #expect(outcome.stdout.contains("imported 2501 records (2501 new, 0 replaced; 0 skipped as existing) from 2502 lines in 3 batches (1 bad)"),
                "\(outcome.stdout)")
        let again = try await StoreClientCommand.run(["import", path, "--store", "127.0.0.1:\(store.port)", "--existing", "skip"])
        #expect(again.stdout.contains("imported 0 records (0 new, 0 replaced; 2501 skipped as existing) from 2502 lines in 3 batches (1 bad)"),
                "\(again.stdout)")
        // The counts come from the store's IMPORTED answers (the binary protocol), batch by batch.
        let replacing = try await StoreClientCommand.run(["import", path, "--store", "127.0.0.1:\(store.port)", "--batch", "1000"])
        #expect(replacing.stdout.contains("imported 2501 records (0 new, 2501 replaced; 0 skipped as existing) from 2502 lines in 3 batches (1 bad)"),
                "\(replacing.stdout)")
    }
}
