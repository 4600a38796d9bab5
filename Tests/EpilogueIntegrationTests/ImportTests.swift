import EpilogueModel
import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct ImportTests {
    static func line(_ id: String, year: Int = 2016, extra: String = "") -> String {
        #"{"id":"\#(id)","film":"La La Land","year":\#(year),"director":"Damien Chazelle","subject":"epilogue","reading":"A what-if for \#(id).","source":"a critic","sourceKind":"critic","themes":["what-if"]\#(extra)}"#
    }

    static func write(_ bytes: [UInt8], in dir: String) -> String {
        let path = dir + "/import.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    @Test func badLinesAreReportedByNumberAndEveryOtherLineIsImported() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var bytes: [UInt8] = []
        bytes += Array((Self.line("a") + "\n").utf8)                                   // 1 good
        bytes += Array("{\"id\": \"b\", \"film\": \n".utf8)                           // 2 malformed JSON
        bytes += Array(Self.line("c").utf8).map { $0 == UInt8(ascii: "w") ? 0xFF : $0 } + [0x0A]  // 3 invalid UTF-8
        bytes += Array(Self.line("d", extra: ",\"pad\":\"" + String(repeating: "x", count: 10 << 20) + "\"").utf8) + [0x0A]  // 4: 10 MB
        bytes += Array((Self.line("e") + "\n").utf8)                                   // 5 good
        bytes += Array((Self.line("f", year: 1700) + "\n").utf8)                       // 6 fails validation
        bytes += Array(("\n").utf8)                                                    // 7 blank: ignored
        bytes += Array((Self.line("g", extra: ",\"ifversion\":4") + "\n").utf8)        // 8 conflict, found by the store
        bytes += Array((Self.line("h") + "\n").utf8)                                   // 9 good
        bytes += Array(Self.line("i").utf8.dropLast(7))                                // 10 truncated, no newline
        let path = Self.write(bytes, in: dir)
        try await withStoreServer(directory: dir + "/store") { port, store in
            try await withStoreClient(port: port) { client in
                let report = try await JSONLinesImport.run(path: path, options: .init(batchRecords: 100), send: { mode, items throws(StoreClientError) in
                    try await client.import(mode, items)
                })
                #expect(report.counts == ImportCounts(new: 3))
                #expect(report.lines == 10)
                #expect(report.bad.map(\.line) == [2, 3, 4, 6, 10, 8])
                let reasons = Dictionary(uniqueKeysWithValues: report.bad.map { ($0.line, $0.reason) })
                #expect(reasons[2]?.contains("not a JSON object") == true)
                #expect(reasons[3] == "not valid UTF-8")
                #expect(reasons[4]?.contains("longer than 1048576 bytes") == true)
                #expect(reasons[6]?.contains("year") == true)
                #expect(reasons[8]?.hasPrefix("CONFLICT") == true)
                #expect(reasons[10]?.contains("no newline at the end") == true)
                #expect(store.query(RecordFilter(), limit: 10, offset: 0).records.map(\.id) == ["a", "e", "h"])
            }
        }
    }

    @Test func aBatchIsAllOrNothingAndNamesTheRefusedLine() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "held", content: TestSupport.content(), expectedVersion: nil)
        let before = store.figures()
        let items = [ImportItem(line: 1, id: "n1", content: TestSupport.content()),
                     ImportItem(line: 2, id: "held", content: TestSupport.content(), expectedVersion: 5),
                     ImportItem(line: 3, id: "n3", content: TestSupport.content())]
        let result = await withCheckedContinuation { c in store.importBatch(items, existing: .replace) { c.resume(returning: $0) } }
        guard case .failure(let error) = result else { Issue.record("expected a refusal"); return }
        #expect(error.code == .conflict)
        #expect(error.description.hasPrefix("line 2: "))
        #expect(store.figures().logBytes == before.logBytes)
        #expect(store.query(RecordFilter(), limit: 10, offset: 0).records.map(\.id) == ["held"])
    }

    /// Items are prepared (validated, compressed, analysed) by several workers, each on a share
    /// of the batch: with refusals in two shares, the one named is still the first in the batch.
    @Test func theFirstRefusedLineInBatchOrderIsNamedWhenSeveralAreRefused() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        let before = store.figures()
        for refused in [[30, 170], [170], [1, 2, 199]] {
            let items = (0..<200).map { i in
                ImportItem(line: UInt32(i + 1), id: refused.contains(i + 1) ? "not valid" : "r\(i)", content: TestSupport.content())
            }
            let result = await withCheckedContinuation { c in store.importBatch(items, existing: .replace) { c.resume(returning: $0) } }
            guard case .failure(let error) = result else { Issue.record("expected a refusal of \(refused)"); continue }
            #expect(error.description.hasPrefix("line \(refused[0]): "), "\(error)")
        }
        #expect(store.figures().logBytes == before.logBytes)
        // And a valid batch that size is written whole, in order.
        let items = (0..<200).map { ImportItem(line: UInt32($0 + 1), id: "r\($0)", content: TestSupport.content()) }
        let result = await withCheckedContinuation { c in store.importBatch(items, existing: .replace) { c.resume(returning: $0) } }
        #expect(try result.get().written == 200)
        #expect(store.query(RecordFilter(), limit: 300, offset: 0).total == 200)
    }

    @Test func skipKeepsExistingRecordsReplaceWritesTheNextVersionAndKeepVersionsRestoresThem() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(reading: "original"), expectedVersion: nil)
        func run(_ items: [ImportItem], _ mode: ImportExisting) async -> Result<ImportCounts, StoreError> {
            await withCheckedContinuation { c in store.importBatch(items, existing: mode) { c.resume(returning: $0) } }
        }
        let skipped = try await run([ImportItem(line: 1, id: "a", content: TestSupport.content(reading: "new")),
                                     ImportItem(line: 2, id: "b", content: TestSupport.content())], .skip).get()
        #expect(skipped == ImportCounts(new: 1, skipped: 1))
        #expect(try store.get(id: "a").content.reading == "original")
        // "a" is replaced twice: the stored record, then the batch's own first line for it.
        let replaced = try await run([ImportItem(line: 1, id: "a", content: TestSupport.content(reading: "new")),
                                      ImportItem(line: 2, id: "a", content: TestSupport.content(reading: "newer")),
                                      ImportItem(line: 3, id: "d", content: TestSupport.content())], .replace).get()
        #expect(replaced == ImportCounts(new: 1, replaced: 2))
        #expect(try store.get(id: "a").version == 3)
        #expect(try store.get(id: "a").content.reading == "newer")
        _ = try await run([ImportItem(line: 1, id: "c", content: TestSupport.content(), version: 7, updatedAt: 1_700_000_000_123)], .replace).get()
        #expect(try store.get(id: "c").version == 7)
        #expect(try store.get(id: "c").updatedAt == 1_700_000_000_123)
        guard case .failure(let stale) = await run([ImportItem(line: 9, id: "c", content: TestSupport.content(), version: 7)], .replace) else {
            Issue.record("a version not above the last must be refused"); return
        }
        #expect(stale.description.hasPrefix("line 9: "))
    }

    @Test func exportImportIntoAnEmptyStoreAndExportAgainIsByteIdentical() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let first: [String] = try await withStack { port, store in
            for n in 0..<250 {
                _ = try await store.put(id: "rt/\(n)", content: TestSupport.content(film: n % 3 == 0 ? "A Real Pain" : "La La Land",
                                                                                    reading: "reading \(n)\nwith \"quotes\" and ünïcode"), expectedVersion: nil)
            }
            _ = try await store.put(id: "rt/7", content: TestSupport.content(reading: "seven, again"), expectedVersion: nil)
            _ = try await store.delete(id: "rt/8", expectedVersion: nil)
            return try await withTextClient(port: port) { try await $0.command("EXPORT").body }
        }
        #expect(first.count == 249)
        let path = Self.write(Array(first.map { $0 + "\n" }.joined().utf8), in: dir)
        let second: [String] = try await withStack { port, store in
            try await withTextClient(port: port) { client in
                // withStack does not expose the store's port: import through the store object, as the store's IMPORT handler does.
                let report = try await JSONLinesImport.run(path: path, options: .init(keepVersions: true, batchRecords: 64), send: { mode, items throws(StoreClientError) in
                    let result = await withCheckedContinuation { c in store.importBatch(items, existing: mode) { c.resume(returning: $0) } }
                    switch result {
                    case .success(let counts): return counts
                    case .failure(let error): throw .refused(code: error.code, message: error.description)
                    }
                })
                #expect(report.counts == ImportCounts(new: 249) && report.bad.isEmpty)
                return try await client.command("EXPORT").body
            }
        }
        #expect(second == first)
    }
}
