import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct DurabilityTests {
    @Test func restartKeepsEveryAcknowledgedWrite() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var expected: [String: (String, UInt64)] = [:]
        do {
            let store = try await TestSupport.openStore(dir)
            try await withThrowingTaskGroup(of: (String, String, UInt64).self) { group in
                for i in 0..<200 {
                    group.addTask {
                        let id = "rec-\(i % 50)"
                        let reading = "reading \(i)"
                        let written = try await store.put(id: id, content: TestSupport.content(reading: reading), expectedVersion: nil)
                        return (id, reading, written.version)
                    }
                }
                for try await (id, reading, version) in group where version > (expected[id]?.1 ?? 0) {
                    expected[id] = (reading, version)
                }
            }
            _ = try await store.delete(id: "rec-0", expectedVersion: nil)
            expected["rec-0"] = nil
            store.close()
        }
        let reopened = try await TestSupport.openStore(dir)
        defer { reopened.close() }
        #expect(reopened.figures().records == expected.count)
        for (id, (reading, version)) in expected {
            let record = try reopened.get(id: id)
            #expect(record.content.reading == reading)
            #expect(record.version == version)
        }
        #expect(throws: StoreError.notFound(id: "rec-0")) { try reopened.get(id: "rec-0") }
        // Versions continue from where they were.
        let next = try await reopened.put(id: "rec-1", content: TestSupport.content(), expectedVersion: nil)
        #expect(next.version == expected["rec-1"]!.1 + 1)
    }

    private func writeThree(_ dir: String) async throws -> Int {
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        for id in ["a", "b", "c"] { _ = try await store.put(id: id, content: TestSupport.content(reading: "text of \(id)"), expectedVersion: nil) }
        return store.figures().logBytes
    }

    @Test func truncatedTailIsCutOffAndTheGoodPrefixRecovers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let size = try await writeThree(dir)
        let path = dir + "/records.log"
        // Tear the last entry: drop its final 5 bytes.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size - 5))
        try handle.close()
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        #expect(store.recovery.entriesReplayed == 2)
        #expect(store.recovery.discardedBytes > 0)
        #expect(try store.get(id: "a").content.reading == "text of a")
        #expect(try store.get(id: "b").content.reading == "text of b")
        #expect(throws: StoreError.notFound(id: "c")) { try store.get(id: "c") }
        // The file was cut back, so new writes append after the good prefix and survive a restart.
        _ = try await store.put(id: "d", content: TestSupport.content(), expectedVersion: nil)
        store.close()
        let again = try await TestSupport.openStore(dir)
        defer { again.close() }
        #expect(again.recovery.discardedBytes == 0)
        #expect(again.figures().records == 3)
    }

    @Test func corruptedTailIsCutOffAndTheGoodPrefixRecovers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let size = try await writeThree(dir)
        let path = dir + "/records.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[size - 3] ^= 0xFF  // inside the last entry's body
        bytes += [0xDE, 0xAD, 0xBE, 0xEF, 0x00]  // and some garbage after it
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        #expect(store.recovery.entriesReplayed == 2)
        #expect(store.recovery.reason?.contains("checksum") == true)
        #expect(store.figures().records == 2)
        #expect(throws: StoreError.notFound(id: "c")) { try store.get(id: "c") }
    }

    /// A restart from the index snapshot with entries after it, the last one torn: the torn
    /// entry is cut off, and the snapshot's records and the replayed ones each read their own
    /// body from the log (their offsets come from the snapshot's scan and the tail's).
    @Test func restartFromTheSnapshotReplaysTheTailAndCutsATornLastEntry() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        do {
            let store = try await TestSupport.openStore(dir)
            for i in 0..<20 { _ = try await store.put(id: "s\(i)", content: TestSupport.content(reading: "snapshot \(i)"), expectedVersion: nil) }
            store.close()
        }
        let size: Int
        do {
            let store = try await TestSupport.openStore(dir)
            for i in 0..<5 { _ = try await store.put(id: "t\(i)", content: TestSupport.content(reading: "tail \(i)"), expectedVersion: nil) }
            _ = try await store.put(id: "s3", content: TestSupport.content(reading: "replaced"), expectedVersion: nil)
            size = store.figures().logBytes
            // Simulated crash: no close(), so the snapshot still describes the first 20 records.
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/records.log"))
        try handle.truncate(atOffset: UInt64(size - 5))
        try handle.close()
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        #expect(store.recovery.usedIndexSnapshot)
        #expect(store.recovery.discardedBytes > 0)
        #expect(store.figures().records == 25)
        for i in 0..<20 { #expect(try store.get(id: "s\(i)").content.reading == "snapshot \(i)", "s3's replacement was the torn entry") }
        for i in 0..<5 { #expect(try store.get(id: "t\(i)").content.reading == "tail \(i)") }
    }

    @Test func garbageLengthInTheTailDoesNotPreventStart() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        _ = try await writeThree(dir)
        let path = dir + "/records.log"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes += [0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        #expect(store.figures().records == 3)
        #expect(store.recovery.discardedBytes == 8)
    }

    @Test func compactionKeepsEveryLiveRecordAndShrinksTheLog() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        for round in 0..<5 {
            for i in 0..<40 { _ = try await store.put(id: "r\(i)", content: TestSupport.content(reading: "round \(round) of \(i)"), expectedVersion: nil) }
        }
        for i in 0..<10 { _ = try await store.delete(id: "r\(i)", expectedVersion: nil) }
        let before = store.figures().logBytes
        try store.compact()
        let after = store.figures()
        #expect(after.logBytes < before / 3)
        #expect(after.records == 30)
        #expect(after.compactions == 1)
        for i in 10..<40 {
            let record = try store.get(id: "r\(i)")
            #expect(record.content.reading == "round 4 of \(i)")
            #expect(record.version == 5)
        }
        _ = try await store.put(id: "after", content: TestSupport.content(), expectedVersion: nil)
        store.close()
        let reopened = try await TestSupport.openStore(dir)
        defer { reopened.close() }
        #expect(reopened.figures().records == 31)
        #expect(try reopened.get(id: "r39").version == 5)
        #expect(throws: StoreError.notFound(id: "r3")) { try reopened.get(id: "r3") }
    }

    @Test func writesDuringCompactionAreKept() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        for i in 0..<2_000 { _ = try await store.put(id: "r\(i % 500)", content: TestSupport.content(reading: "first \(i)"), expectedVersion: nil) }
        async let writer: Void = {
            for i in 0..<300 { _ = try await store.put(id: "late-\(i)", content: TestSupport.content(reading: "late \(i)"), expectedVersion: nil) }
        }()
        try store.compact()
        try await writer
        store.close()
        let reopened = try await TestSupport.openStore(dir)
        defer { reopened.close() }
        #expect(reopened.figures().records == 800)
        #expect(try reopened.get(id: "late-299").content.reading == "late 299")
        #expect(try reopened.get(id: "r499").content.reading == "first 1999")
    }

    /// Bodies stay in the log and are read by offset: after a compaction (no restart) every
    /// record — copied, re-compressed with a newer dictionary, or appended while it ran — is read
    /// from where the new file holds it, and a record taken before the swap still reads its body
    /// from the old file.
    @Test func afterACompactionEveryRecordReadsItsOwnBody() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        for i in 0..<2_000 { _ = try await store.put(id: "r\(i % 500)", content: TestSupport.content(reading: "first \(i)"), expectedVersion: nil) }
        let taken = try #require(store.record(id: "r7"))
        #expect(try store.trainDictionary() == DictionarySet.firstTrainedID)
        async let writer: Void = {
            for i in 0..<300 { _ = try await store.put(id: "late-\(i)", content: TestSupport.content(reading: "late \(i)"), expectedVersion: nil) }
        }()
        try store.compact()
        try await writer
        #expect(store.figures().compactions == 1)
        for i in 0..<500 { #expect(try store.get(id: "r\(i)").content.reading == "first \(1_500 + i)") }
        for i in 0..<300 { #expect(try store.get(id: "late-\(i)").content.reading == "late \(i)") }
        #expect(store.record(id: "r7")?.dictionaryID == DictionarySet.firstTrainedID, "re-compressed by the compaction")
        #expect(taken.dictionaryID != DictionarySet.firstTrainedID)
        #expect(try store.decode(taken).content.reading == "first 1507")
    }

    /// The compaction swap releases writes still waiting for their fsync while it holds the store's
    /// lock; their callbacks (which take that lock) must run after it, not inside it.
    @Test func writesWaitingForFsyncWhenCompactionSwapsTheLogAreAcknowledged() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        defer { store.close() }
        for i in 0..<400 { _ = try await store.put(id: "r\(i % 100)", content: TestSupport.content(reading: "first \(i)"), expectedVersion: nil) }
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                // Callback-style writes, as the server issues them, many in flight at once.
                await withTaskGroup(of: Bool.self) { writes in
                    for i in 0..<600 {
                        writes.addTask {
                            await withCheckedContinuation { continuation in
                                store.put(id: "late-\(i)", content: TestSupport.content(reading: "late \(i)"), expectedVersion: nil) { result in
                                    continuation.resume(returning: (try? result.get()) != nil)
                                }
                            }
                        }
                    }
                    return await writes.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            group.addTask {
                for _ in 0..<5 { try store.compact() }
                return 0
            }
            return try await group.reduce(0, +)
        }
        #expect(acknowledged == 600)
        #expect(try store.get(id: "late-599").content.reading == "late 599")
    }

    @Test func leftoverCompactionFileFromACrashIsIgnored() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        _ = try await writeThree(dir)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/records.log.compacting"))
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        #expect(store.figures().records == 3)
        #expect(!FileManager.default.fileExists(atPath: dir + "/records.log.compacting"))
    }

    @Test func unwritableDataDirectoryFailsWithAClearError() async throws {
        await #expect(throws: StorageError.self) {
            _ = try await TestSupport.openStore("/proc/epilogue-cannot-exist")
        }
    }
}
