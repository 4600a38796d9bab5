import EpilogueCompression
import EpilogueModel
import EpilogueProtocol
import EpilogueShared
import EpilogueTestSupport
import Logging
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// `RecordIndex` on its own: log entries applied in memory, no lock. Bodies stay in a log file
/// (each record says where), so the entries are appended to one in a temporary directory.
@Suite final class RecordIndexTests {
    let dictionaries = DictionarySet()
    let directory = TestSupport.temporaryDirectory("RecordIndexTests")
    let log: RecordLog

    init() throws {
        log = try RecordLog(directory: directory)
    }

    deinit { TestSupport.removeDirectory(directory) }

    /// A put entry of `content` as the store writes it (compressed with the newest dictionary).
    func put(_ id: String, version: UInt64, _ content: RecordContent) throws -> LogEntry {
        let raw = RecordBody.bytes(of: content)
        let packed = try dictionaries.compress(raw)
        return LogEntry.put(id: id, version: version, updatedAt: Int64(version), encoding: .zlib, dictionaryID: packed.dictionaryID,
                            rawLength: UInt32(raw.count), body: packed.bytes)
    }

    func apply(_ entries: [LogEntry], to index: inout RecordIndex) throws {
        for entry in entries {
            let bytes = entry.encoded()
            let offset = log.size
            try log.append(bytes)
            index.apply(entry, size: bytes.count, at: offset, in: log.file, logger: TestSupport.logger)
        }
    }

    @Test func aReplacedRecordIsFoundOnlyByItsNewText() throws {
        var index = RecordIndex(dictionaries: dictionaries)
        try apply([try put("a", version: 1, TestSupport.content(reading: "the planetarium waltz")),
               try put("a", version: 2, TestSupport.content(reading: "the jazz club"))], to: &index)
        #expect(index.records["a"]?.version == 2)
        #expect(index.find(try SearchQuery(parsing: "planetarium"), filter: RecordFilter(), limit: 10, offset: 0, fuzzy: false).total == 0)
        let found = index.find(try SearchQuery(parsing: "jazz"), filter: RecordFilter(), limit: 10, offset: 0, fuzzy: false)
        #expect(found.hits.map(\.record.id) == ["a"])
        #expect(index.search.documentCount == 1)
    }

    @Test func aDeleteLeavesATombstoneWithItsVersionAndRemovesTheRecordEverywhere() throws {
        var index = RecordIndex(dictionaries: dictionaries)
        try apply([try put("a", version: 1, TestSupport.content(film: "A Real Pain", themes: ["grief"])),
               try put("b", version: 1, TestSupport.content())], to: &index)
        let delete = LogEntry.delete(id: "a", version: 1, updatedAt: 5)
        try apply([delete], to: &index)
        #expect(index.records["a"] == nil)
        #expect(index.tombstones["a"] == RecordIndex.Tombstone(version: 1, updatedAt: 5, logBytes: UInt32(delete.encoded().count)))
        #expect(index.films().map(\.film) == ["La La Land"])
        #expect(index.themes(film: nil).map(\.theme) == ["what-if"])
        #expect(index.query(RecordFilter(), limit: 10, offset: 0).records.map(\.id) == ["b"])
        // Live log bytes: b's put and a's delete entry (what a compaction keeps).
        #expect(index.liveLogBytes == Int(index.records["b"]!.logBytes) + delete.encoded().count)
    }

    @Test func queriesFilterFoldedAndPageInIDOrder() throws {
        var index = RecordIndex(dictionaries: dictionaries)
        try apply(try ["c", "a", "d", "b"].map { try put($0, version: 1, TestSupport.content()) }
              + [try put("e", version: 1, TestSupport.content(film: "A Real Pain"))], to: &index)
        let page = index.query(RecordFilter(film: "la la land").folded, limit: 2, offset: 1)
        #expect(page.records.map(\.id) == ["b", "c"])
        #expect(page.total == 4)
        #expect(Set(index.matching(RecordFilter(film: "A REAL PAIN").folded).map(\.id)) == ["e"])
    }

    @Test func anUnknownWordGetsASuggestionAndFuzzySearchUsesIt() throws {
        var index = RecordIndex(dictionaries: dictionaries)
        try apply([try put("a", version: 1, TestSupport.content(reading: "a montage of dreams"))], to: &index)
        let query = try SearchQuery(parsing: "montaje")
        let plain = index.find(query, filter: RecordFilter(), limit: 10, offset: 0, fuzzy: false)
        #expect(plain.total == 0)
        #expect(plain.suggested.map(\.stem) == ["montag"])
        let fuzzy = index.find(query, filter: RecordFilter(), limit: 10, offset: 0, fuzzy: true)
        #expect(fuzzy.hits.map(\.record.id) == ["a"])
        #expect(fuzzy.query == query.replacing(["montaj": "montag"]), "snippets highlight the words the fuzzy retry searched")
    }
}
