import EpilogueProtocol
import EpilogueModel
import Foundation
import Testing
@testable import EpilogueStore

@Suite struct PostingListTests {
    /// Increasing doc ids with small and huge gaps, frequencies around the one-byte escape.
    static func entries(count: Int) -> [(doc: UInt32, frequency: UInt32)] {
        var rng = SplitMix64(seed: 99)
        var doc: UInt32 = 0
        return (0..<count).map { i in
            doc += i % 97 == 0 ? UInt32(rng.next() % 3_000_000) + 1 : UInt32(rng.next() % 5) + 1
            let frequency: UInt32 = i % 31 == 0 ? 250 + UInt32(rng.next() % 10_000) : UInt32(rng.next() % 4) + 1
            return (doc, frequency)
        }
    }

    @Test func entriesComeBackAsAppended() {
        let expected = Self.entries(count: 1_000)
        var list = PostingList()
        for entry in expected { list.append(entry.doc, frequency: entry.frequency) }
        var cursor = PostingList.Cursor(list)
        var decoded: [(UInt32, UInt32)] = []
        while cursor.advance() { decoded.append((cursor.doc, cursor.frequency)) }
        #expect(decoded.map(\.0) == expected.map(\.doc))
        #expect(decoded.map(\.1) == expected.map(\.frequency))
        #expect(list.count == 1_000 && list.live == 1_000)
        #expect(list.bytes.count < 1_000 * 4, "packed entries should average well under 4 bytes")
    }

    @Test func seekFindsTheFirstDocAtOrAfterTheTarget() {
        let expected = Self.entries(count: 2_000)
        var list = PostingList()
        for entry in expected { list.append(entry.doc, frequency: entry.frequency) }
        var rng = SplitMix64(seed: 5)
        var targets = (0..<300).map { _ in UInt32(rng.next() % UInt64(expected.last!.doc + 10)) }
        targets.sort()
        var cursor = PostingList.Cursor(list)
        for target in targets {
            let reference = expected.first { $0.doc >= target }
            let found = cursor.seek(target)
            #expect(found == (reference != nil))
            if let reference, found {
                #expect(cursor.doc == reference.doc && cursor.frequency == reference.frequency)
            }
        }
    }

    @Test func keepingDropsRejectedEntriesOnly() {
        var list = PostingList()
        for doc in UInt32(1)...500 { list.append(doc, frequency: doc % 300) }
        let kept = list.keeping { $0 % 3 == 0 }
        var cursor = PostingList.Cursor(kept)
        var docs: [UInt32] = []
        while cursor.advance() {
            docs.append(cursor.doc)
            #expect(cursor.frequency == cursor.doc % 300)
        }
        #expect(docs == Array(stride(from: UInt32(3), through: 500, by: 3)))
        #expect(kept.live == docs.count)
    }
}

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

    @Test func writesAfterTheSnapshotAreReplayedFromTheLog() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        try await Self.fill(store, count: 60)
        store.close()
        // Reopen and write more without a clean shutdown: the snapshot now covers only a prefix.
        let expected: Observed
        do {
            let second = try await TestSupport.openStore(dir)
            try await Self.fill(store: second, updatesAndDeletes: true)
            expected = Self.observe(second)
            // Simulated crash: no close(), so no new snapshot.
        }
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

    static func fill(store: RecordStore, updatesAndDeletes: Bool) async throws {
        try await fill(store, count: 20)
        for i in stride(from: 1, to: 60, by: 5) { _ = try await store.delete(id: "r\(i)", expectedVersion: nil) }
        try await fill(store, count: 10, prefix: "new")
    }
}
