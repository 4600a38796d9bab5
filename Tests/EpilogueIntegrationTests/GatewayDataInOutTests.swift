import EpilogueModel
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

/// IMPORT and EXPORT through the gateway's text protocol, against a real store: batches applied
/// one by one, a bad line that stops the import with nothing of its batch applied, and an export
/// streamed to a slow reader in bounded memory, equal to the binary one.
@Suite struct GatewayDataInOutTests {
    static func line(_ id: String) -> String { ImportTests.line(id) }

    /// Sends IMPORT, the lines and `.` at once (as `nc` does) and returns IMPORT's answer.
    static func importLines(_ client: TextTestClient, _ command: String, _ lines: [String]) async throws -> TextReply {
        try await client.send(command + "\n" + lines.map { $0 + "\n" }.joined() + ".\n")
        return try await client.readReply()
    }

    @Test func importAppliesEveryBatchInTurnAndSkipModeLeavesExistingIdsAlone() async throws {
        try await withStack { port, store in
            try await withTextClient(port: port) { client in
                let lines = (0..<2_500).map { Self.line("gw/\($0)") }
                let first = try await Self.importLines(client, "IMPORT", lines)
                #expect(first.status == "OK imported 2500 records (2500 new, 0 replaced; 0 skipped as existing) in 3 batches")
                #expect(try await client.command("FIND film=\"La La Land\" limit=1").status == "OK 1 of 2500 records (1–1)")
                let again = try await Self.importLines(client, "IMPORT mode=skip", lines)
                #expect(again.status == "OK imported 0 records (0 new, 0 replaced; 2500 skipped as existing) in 3 batches")
                // Half of these ids are there: in replace mode they are counted as replaced, the rest as new.
                let overlapping = (2_000..<3_000).map { Self.line("gw/\($0)") }
                let replaced = try await Self.importLines(client, "IMPORT mode=replace", overlapping)
                #expect(replaced.status == "OK imported 1000 records (500 new, 500 replaced; 0 skipped as existing) in 1 batch")
                let exported = try await client.command("EXPORT")
                #expect(exported.body.count == 3_000)
                // EXPORT's lines, imported with keep-versions into a store that has them, are refused
                // (a version must be above the id's last): the first line is named, nothing applied.
                let restore = try await Self.importLines(client, "IMPORT keep-versions", Array(exported.body.prefix(10)))
                #expect(restore.errorCode != nil && restore.status.contains(" line 1: ") && restore.status.hasSuffix("(nothing was imported)"), "\(restore)")
                #expect(store.record(id: "gw/0")?.version == 1)
            }
        }
    }

    @Test func aBadLineStopsTheImportItsBatchIsNotAppliedAndTheConnectionGoesOn() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { client in
                var lines = (0..<1_500).map { Self.line("bad/\($0)") }
                lines[1_199] = #"{"id":"bad/1199","film":"La La Land"}"#
                let reply = try await Self.importLines(client, "IMPORT", lines)
                #expect(reply.status == "ERR BAD_REQUEST line 1200: missing field 'year' (imported before it: 1000 records (1000 new, 0 replaced; 0 skipped as existing) in 1 batch; nothing after them)")
                #expect(try await client.command("FIND film=\"La La Land\" limit=1").status == "OK 1 of 1000 records (1–1)")
                #expect(try await client.command("PING").status == "OK PONG")
            }
        }
    }

    @Test func importNeedsAuthOnAGatewayWithAWriteTokenAndItsBodyIsNeverRunAsCommands() async throws {
        try await withStack(writeToken: "t0ken") { port, _ in
            try await withTextClient(port: port) { client in
                let refused = try await Self.importLines(client, "IMPORT", [Self.line("a/1"), "QUIT"])
                #expect(refused.status == "ERR UNAUTHORIZED IMPORT needs AUTH <token> first (nothing was imported)")
                _ = try await client.command("AUTH t0ken")
                let bad = try await Self.importLines(client, "IMPORT mode=sometimes", [Self.line("a/1")])
                #expect(bad.errorCode == "BAD_REQUEST")
                #expect(try await client.command("PING").status == "OK PONG")
                #expect(try await Self.importLines(client, "IMPORT", [Self.line("a/1")]).status == "OK imported 1 record (1 new, 0 replaced; 0 skipped as existing) in 1 batch")
            }
        }
    }

    @Test(.timeLimit(.minutes(5)))
    func aLargeExportToASlowReaderKeepsTheGatewaysBufferBoundedAndEqualsTheBinaryExport() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let count = 20_000
        try await withStoreServer(directory: dir) { storePort, store in
            var generator = SplitMix64(seed: 18)
            let words = ["dream", "sacrifice", "love", "jazz", "paris", "montage", "ending", "grief", "memory", "choice"]
            for start in stride(from: 0, to: count, by: 1_000) {
                let items = (start..<start + 1_000).map { n in
                    let reading = (0..<150).map { _ in words[Int(generator.next() % UInt64(words.count))] }.joined(separator: " ")
                    return ImportItem(line: UInt32(n + 1), id: String(format: "big/%06d", n), content: TestSupport.content(reading: reading))
                }
                let result = await withCheckedContinuation { c in store.importBatch(items, existing: .replace) { c.resume(returning: $0) } }
                #expect((try? result.get())?.written == 1_000)
            }
            let binary = try await withStoreClient(port: storePort) { try await $0.export() }
            let expected = binary.flatMap { TextRenderer(format: .json).record($0).lines }
            let exportBytes = expected.reduce(0) { $0 + $1.utf8.count + 2 }
            try await withGateway(storePort: storePort) { port, gateway in
                try await withTextClient(port: port) { client in
                    try await client.send("EXPORT\n")
                    #expect(try await client.readLine() == "OK \(GatewayConnectionHandler.exportSummary)")
                    // Read nothing more until the socket is full and the gateway has paused the store's
                    // stream: paced reads alone never fill it on a loaded machine, where the reader
                    // outruns a starved gateway.
                    let deadline = ContinuousClock.now + .seconds(60)
                    while gateway.exportBuffer.pauseCount == 0 && ContinuousClock.now < deadline {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                    var lines: [String] = []
                    lines.reserveCapacity(count)
                    while true {
                        let line = try await client.readLine()
                        if line == "." { break }
                        lines.append(line)
                        // A slow reader: the socket fills and the gateway must stop pulling from the store.
                        if lines.count % 500 == 0 { try await Task.sleep(for: .milliseconds(25)) }
                    }
                    #expect(lines.count == count)
                    #expect(lines == expected, "the gateway's EXPORT differs from the binary export")
                }
                let peak = gateway.exportBuffer.peakBytes
                print("GatewayDataInOutTests: export of \(count) records, \(exportBytes) bytes; the gateway held at most \(peak) bytes of it "
                      + "and paused the store's stream \(gateway.exportBuffer.pauseCount) times")
                #expect(gateway.exportBuffer.pauseCount > 0, "the slow reader never made the gateway pause the store's stream")
                #expect(peak <= 1 << 20, "the gateway buffered \(peak) bytes of a \(exportBytes)-byte export for a slow reader")
                #expect(exportBytes > 16 * (1 << 20))
            }
        }
    }
}
