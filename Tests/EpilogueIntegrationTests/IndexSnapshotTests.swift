import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct IndexSnapshotTests {
    static let readings = ["a dream of paris and jazz", "the final look at the club", "grief on a train in poland",
                           "the dream ends at the airport", "jazz piano dream montage", "memory of the last song"]

    static func fill(_ store: RecordStore, count: Int, prefix: String = "r") async throws {
        for i in 0..<count {
            let film = i % 2 == 0 ? "La La Land" : "A Real Pain"
            let content = TestSupport.content(film: film, subject: "scene \(i % 4)", reading: readings[i % readings.count] + " \(i)",
                                              themes: i % 3 == 0 ? ["grief", "memory"] : ["what-if"])
            _ = try await store.put(id: "\(prefix)\(i)", content: content, expectedVersion: nil)
        }
    }

    /// Everything a client can observe of the indexes.
    struct Observed: Equatable {
        var search: [[SearchHit]]
        var filtered: [String]
        var films: [FilmSummary]
        var themes: [ThemeCount]
        var figures: RecordStore.Figures
    }

    static func observe(_ store: RecordStore) -> Observed {
        var figures = store.figures()
        figures.fsyncs = 0
        figures.writes = 0
        figures.compactions = 0  // counters of this process, not of the data
        return Observed(search: ["dream", "jazz dream", "the", "poland train", "17"].map { (try? store.search($0, filter: RecordFilter(), limit: 10).results) ?? [] },
                        filtered: store.query(RecordFilter(film: "A Real Pain", theme: "grief"), limit: 50, offset: 0).records.map(\.id),
                        films: store.films(), themes: store.themes(film: nil), figures: figures)
    }

    @Test func restartFromTheSnapshotEqualsARebuild() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        try await Self.fill(store, count: 120)
        for i in stride(from: 0, to: 120, by: 7) { _ = try await store.delete(id: "r\(i)", expectedVersion: nil) }
        try await Self.fill(store, count: 30)  // new versions of the first 30
        let before = Self.observe(store)
        store.close()
        #expect(FileManager.default.fileExists(atPath: dir + "/" + IndexSnapshot.fileName))

        let restarted = try await TestSupport.openStore(dir, fsync: .never)
        #expect(restarted.recovery.usedIndexSnapshot)
        #expect(Self.observe(restarted) == before)
        restarted.close()

        try FileManager.default.removeItem(atPath: dir + "/" + IndexSnapshot.fileName)
        let rebuilt = try await TestSupport.openStore(dir, fsync: .never)
        #expect(!rebuilt.recovery.usedIndexSnapshot)
        let observed = Self.observe(rebuilt)
        // A rebuild numbers documents afresh; rankings, scores and every listing stay the same.
        #expect(observed == before)
        rebuilt.close()
    }

    @Test func postingListsKeepTheirBlockMaximaThroughTheSnapshot() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var search = SearchIndex()
        for doc in UInt32(1)...400 {
            search.upsert(docID: doc, fields: ["", "", Self.readings[Int(doc) % Self.readings.count] + String(repeating: " dream", count: Int(doc % 5)), ""])
        }
        for doc in stride(from: UInt32(1), through: 400, by: 2) {
            search.remove(docID: doc, fields: ["", "", Self.readings[Int(doc) % Self.readings.count] + String(repeating: " dream", count: Int(doc % 5)), ""])
        }
        try IndexSnapshot(logSize: 0, nextDocID: 401, facets: [], documents: [], search: search).write(to: dir)
        let loaded = try #require(IndexSnapshot.load(from: dir))
        #expect(loaded.search.postings == search.postings, "entries, positions and skip entries with their maxima")
        #expect(search.postings.allSatisfy { $0.skips.allSatisfy { $0.maxFrequency >= 1 && $0.minLength >= 4 && $0.minLength < 20 } })
        #expect(search.postings.contains { $0.skips.contains { $0.maxFrequency > 1 } })
        #expect(loaded.search.search("dream", limit: 5, offset: 0) == search.search("dream", limit: 5, offset: 0))
    }

    @Test func writesAfterTheSnapshotAreReplayedFromTheLog() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let expected = try await Self.snapshotThenWritesAndACrash(dir)
        let recovered = try await TestSupport.openStore(dir)
        #expect(recovered.recovery.usedIndexSnapshot)
        #expect(Self.observe(recovered) == expected)
        recovered.close()
    }

    @Test func compactionLeavesASnapshotOfTheNewLog() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let expected: Observed
        do {
            let store = try await TestSupport.openStore(dir, fsync: .never)
            try await Self.fill(store, count: 80)
            try await Self.fill(store, count: 60)  // new versions: dead entries to compact away
            try store.compact()
            #expect(store.figures().compactions == 1)
            expected = Self.observe(store)
            // Simulated crash after the compaction: no close().
        }
        let reopened = try await TestSupport.openStore(dir, fsync: .never)
        #expect(reopened.recovery.usedIndexSnapshot)
        #expect(Self.observe(reopened) == expected)
        reopened.close()
    }

    @Test func aSnapshotThatDoesNotMatchTheLogIsIgnored() async throws {
        let a = TestSupport.temporaryDirectory("snapshotA"), b = TestSupport.temporaryDirectory("snapshotB")
        defer { TestSupport.removeDirectory(a); TestSupport.removeDirectory(b) }
        let storeA = try await TestSupport.openStore(a, fsync: .never)
        try await Self.fill(storeA, count: 40)
        storeA.close()
        let storeB = try await TestSupport.openStore(b, fsync: .never)
        try await Self.fill(storeB, count: 40, prefix: "q")
        let expected = Self.observe(storeB)
        storeB.close()
        // B's own snapshot replaced by A's: same shape, other records.
        try FileManager.default.removeItem(atPath: b + "/" + IndexSnapshot.fileName)
        try FileManager.default.copyItem(atPath: a + "/" + IndexSnapshot.fileName, toPath: b + "/" + IndexSnapshot.fileName)
        let reopened = try await TestSupport.openStore(b, fsync: .never)
        #expect(!reopened.recovery.usedIndexSnapshot)
        #expect(Self.observe(reopened) == expected)
        reopened.close()
    }

    @Test func aDamagedSnapshotIsIgnored() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        try await Self.fill(store, count: 40)
        let expected = Self.observe(store)
        store.close()
        let path = dir + "/" + IndexSnapshot.fileName
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reopened = try await TestSupport.openStore(dir, fsync: .never)
        #expect(!reopened.recovery.usedIndexSnapshot)
        #expect(Self.observe(reopened) == expected)
        reopened.close()
    }

    /// The scan reads past the snapshot's point (its header says where) while the snapshot
    /// loads; when the rest of the file then turns out damaged, the entries after that point
    /// must still reach the rebuild.
    @Test func aDamagedSnapshotWithWritesAfterItRebuildsFromTheWholeLog() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let expected = try await Self.snapshotThenWritesAndACrash(dir)
        let path = dir + "/" + IndexSnapshot.fileName
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(IndexSnapshot.header(in: dir) != nil, "the damage is past the header")
        let recovered = try await TestSupport.openStore(dir)
        #expect(!recovered.recovery.usedIndexSnapshot)
        #expect(Self.observe(recovered) == expected)
        recovered.close()
    }

    /// A store in `dir` closed cleanly (a snapshot written), reopened, written to and "crashed"
    /// (no close, no new snapshot): the snapshot covers only a prefix of the log. What the
    /// second store showed.
    static func snapshotThenWritesAndACrash(_ dir: String) async throws -> Observed {
        let store = try await TestSupport.openStore(dir)
        try await fill(store, count: 60)
        store.close()
        let second = try await TestSupport.openStore(dir)
        try await fill(store: second, updatesAndDeletes: true)
        return observe(second)
    }

    static func fill(store: RecordStore, updatesAndDeletes: Bool) async throws {
        try await fill(store, count: 20)
        for i in stride(from: 1, to: 60, by: 5) { _ = try await store.delete(id: "r\(i)", expectedVersion: nil) }
        try await fill(store, count: 10, prefix: "new")
    }
}
