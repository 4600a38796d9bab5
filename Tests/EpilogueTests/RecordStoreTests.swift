import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import Foundation
import Testing
@testable import EpilogueStore

@Suite struct RecordValidationTests {
    @Test func acceptsAWellFormedRecord() throws {
        try RecordValidator.validate(Record(id: "la-la-land/epilogue", content: TestSupport.content(), version: 1, updatedAt: 0))
    }

    @Test(arguments: [
        ("", "id"), (String(repeating: "a", count: 129), "id"), ("has space", "id"), ("tab\there", "id"), ("café", "id"),
    ])
    func rejectsBadIDsNamingTheField(id: String, field: String) {
        #expect(throws: RecordValidationError.self) { try RecordValidator.validate(id: id) }
        do { try RecordValidator.validate(id: id) } catch { #expect(error.field == field) }
    }

    @Test func idOfExactly128BytesIsAccepted() throws {
        try RecordValidator.validate(id: String(repeating: "x", count: 128))
    }

    @Test func rejectsEachBrokenFieldByName() {
        var cases: [(RecordContent, String)] = []
        var c = TestSupport.content(); c.film = " "; cases.append((c, "film"))
        c = TestSupport.content(); c.reading = String(repeating: "a", count: 64 * 1024 + 1); cases.append((c, "reading"))
        c = TestSupport.content(); c.year = 1200; cases.append((c, "year"))
        c = TestSupport.content(); c.themes = ["Not A Tag"]; cases.append((c, "themes"))
        c = TestSupport.content(); c.themes = ["grief", "grief"]; cases.append((c, "themes"))
        c = TestSupport.content(); c.subject = "line\nbreak"; cases.append((c, "subject"))
        c = TestSupport.content(); c.source = ""; cases.append((c, "source"))
        c = TestSupport.content(); c.director = String(repeating: "d", count: 2000); cases.append((c, "director"))
        for (content, field) in cases {
            do {
                try RecordValidator.validate(content)
                Issue.record("\(field) should have been rejected")
            } catch {
                #expect(error.field == field)
            }
        }
    }

    @Test func readingOfExactly64KiBIsAccepted() throws {
        var c = TestSupport.content()
        c.reading = String(repeating: "a", count: 64 * 1024)
        try RecordValidator.validate(c)
    }

    @Test func sourceKindParsesOnlyTheFiveKinds() {
        #expect(SourceKind(name: "Director") == .director)
        #expect(SourceKind(name: "audience") == .audience)
        #expect(SourceKind(name: "fan") == nil)
    }
}

@Suite struct BundledDatasetTests {
    @Test func bundledDatasetLoadsAndValidates() throws {
        let records = try BundledDataset.load()
        #expect(records.count >= 40)
        let films = Set(records.map(\.content.film))
        #expect(films == ["La La Land", "A Real Pain"])
        let kinds = Set(records.map(\.content.sourceKind))
        #expect(kinds.isSuperset(of: [.director, .cast, .article]))
    }

    /// One record of the dataset file that keeps to the vocabulary, with `changes` applied.
    private func fileRecord(_ changes: [String: Any] = [:]) -> [String: Any] {
        var record: [String: Any] = ["id": "la-la-land/x", "film": "La La Land", "year": 2016, "director": "Damien Chazelle",
                                     "subject": "final look", "reading": "r", "source": "x", "sourceKind": "article",
                                     "sourceRef": "002_367b70248f757392.txt#what-does-the-montage-mean", "themes": ["memory"]]
        record.merge(changes) { $1 }
        return record
    }

    private func parse(_ records: [[String: Any]]) throws -> [BundledDataset.Entry] {
        try BundledDataset.parse(JSONSerialization.data(withJSONObject: records))
    }

    private func rejectedField(_ changes: [String: Any]) -> String? {
        do {
            _ = try parse([fileRecord(changes)])
            return nil
        } catch BundledDataset.LoadError.invalid(_, let error) {
            return error.field
        } catch {
            return "\(error)"
        }
    }

    @Test func aRecordThatKeepsToTheVocabularyLoadsWithItsSourceRefAtTheEndOfSource() throws {
        let entries = try parse([fileRecord()])
        #expect(entries.map(\.sourceRef) == ["002_367b70248f757392.txt#what-does-the-montage-mean"])
        #expect(entries.first?.content.source == "x [002_367b70248f757392.txt#what-does-the-montage-mean]")
    }

    @Test func datasetWithADuplicateIDIsRejected() {
        #expect(throws: BundledDataset.LoadError.self) { try parse([fileRecord(), fileRecord()]) }
    }

    @Test func datasetWithAnInvalidRecordNamesIt() {
        #expect(rejectedField(["id": "bad id"]) == "id")
    }

    @Test func bundledRecordsMustKeepToTheVocabulary() {
        #expect(rejectedField(["themes": ["memory", "nostalgia"]]) == "themes")
        #expect(rejectedField(["subject": "ending"]) == "subject")
        #expect(rejectedField(["subject": "airport ending"]) == "subject")  // a subject of the other film
        #expect(rejectedField(["film": "Whiplash"]) == "film")
        #expect(rejectedField(["sourceRef": "002_367b70248f757392.txt#no-such-section"]) == "sourceRef")
        #expect(rejectedField(["sourceRef": "009_x.txt#intro"]) == "sourceRef")
        #expect(rejectedField(["id": "a-real-pain/x"]) == "id")
        #expect(rejectedField(["id": "la-la-land/Mixed-Case"]) == "id")
        #expect(rejectedField(["id": "la-la-land/chazelle-says"]) == "id")  // a speaker's prefix on an article's record
        #expect(rejectedField(["sourceKind": "director"]) == "id")  // a director's record without his prefix
        #expect(rejectedField(["sourceKind": "director", "id": "la-la-land/chazelle-says"]) == nil)
    }

    @Test func recordsUsersWriteMayUseThemesOutsideTheVocabulary() throws {
        try RecordValidator.validate(TestSupport.content(themes: ["nostalgia", "my-own-tag"]))
    }

    @Test func emptyDataDirectoryStartsWithTheBundledDataset() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, dataset: true)
        defer { store.close() }
        let expected = try BundledDataset.load()
        #expect(store.figures().records == expected.count)
        #expect(store.recovery.loadedBundledDataset == expected.count)
        let sample = try #require(expected.first)
        #expect(try store.get(id: sample.id).content == sample.content)
    }

    @Test func compressionWithTheDictionaryBeatsPlainZlibOnTheDataset() throws {
        var raw = 0, plain = 0, withDictionary = 0
        for entry in try BundledDataset.load() {
            let body = Array(buffer: RecordBody.encode(entry.content))
            raw += body.count
            plain += try Zlib.compress(body, level: 9).count
            withDictionary += try BodyCompression.compress(body).bytes.count
        }
        #expect(withDictionary < plain)
        #expect(plain < raw)
    }
}

@Suite struct RecordStoreTests {
    @Test func putThenGetReturnsTheContentAtVersionOne() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        let written = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        #expect(written.version == 1)
        let record = try store.get(id: "a")
        #expect(record.content == TestSupport.content())
        #expect(record.version == 1)
        #expect(record.updatedAt == written.updatedAt)
    }

    @Test func replacingIncrementsTheVersion() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        let second = try await store.put(id: "a", content: TestSupport.content(reading: "Changed."), expectedVersion: nil)
        #expect(second.version == 2)
        #expect(try store.get(id: "a").content.reading == "Changed.")
        #expect(store.figures().records == 1)
    }

    @Test func compareAndSetConflictsOnAStaleVersion() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: 0)
        await #expect(throws: StoreError.conflict(id: "a", expected: 0, actual: 1)) {
            try await store.put(id: "a", content: TestSupport.content(), expectedVersion: 0)
        }
        await #expect(throws: StoreError.conflict(id: "a", expected: 5, actual: 1)) {
            try await store.put(id: "a", content: TestSupport.content(), expectedVersion: 5)
        }
        let ok = try await store.put(id: "a", content: TestSupport.content(reading: "v2"), expectedVersion: 1)
        #expect(ok.version == 2)
        await #expect(throws: StoreError.conflict(id: "a", expected: 1, actual: 2)) {
            try await store.delete(id: "a", expectedVersion: 1)
        }
    }

    @Test func deleteRemovesTheRecordAndMissingIsNotFound() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        #expect(try await store.delete(id: "a", expectedVersion: nil) == 1)
        #expect(throws: StoreError.notFound(id: "a")) { try store.get(id: "a") }
        await #expect(throws: StoreError.notFound(id: "a")) { try await store.delete(id: "a", expectedVersion: nil) }
        #expect(store.query(RecordFilter(), limit: 10, offset: 0).total == 0)
    }

    @Test func invalidRecordIsRejectedAndNothingIsWritten() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        let before = store.figures().logBytes
        await #expect(throws: StoreError.invalidRecord(RecordValidationError(field: "id", reason: "must be printable ASCII without spaces"))) {
            try await store.put(id: "bad id", content: TestSupport.content(), expectedVersion: nil)
        }
        #expect(store.figures().logBytes == before)
    }

    @Test func filtersCombineAndPageInIDOrder() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        for i in 0..<10 {
            let film = i % 2 == 0 ? "La La Land" : "A Real Pain"
            let kind: SourceKind = i % 3 == 0 ? .director : .critic
            _ = try await store.put(id: "r\(i)", content: TestSupport.content(film: film, subject: i < 5 ? "ending" : "airport", kind: kind,
                                                                            themes: i % 4 == 0 ? ["grief", "family"] : ["grief"]), expectedVersion: nil)
        }
        let lalaland = store.query(RecordFilter(film: "La La Land"), limit: 100, offset: 0)
        #expect(lalaland.records.map(\.id) == ["r0", "r2", "r4", "r6", "r8"])
        let family = store.query(RecordFilter(theme: "family"), limit: 100, offset: 0)
        #expect(family.records.map(\.id) == ["r0", "r4", "r8"])
        let combined = store.query(RecordFilter(film: "La La Land", sourceKind: .director), limit: 100, offset: 0)
        #expect(combined.records.map(\.id) == ["r0", "r6"])
        let bySubject = store.query(RecordFilter(film: "A Real Pain", subject: "airport"), limit: 100, offset: 0)
        #expect(bySubject.records.map(\.id) == ["r5", "r7", "r9"])
        let page = store.query(RecordFilter(theme: "grief"), limit: 3, offset: 2)
        #expect(page.records.map(\.id) == ["r2", "r3", "r4"])
        #expect(page.total == 10)
        #expect(store.query(RecordFilter(film: "Whiplash"), limit: 10, offset: 0).total == 0)
        #expect(store.films().map(\.film) == ["A Real Pain", "La La Land"])
        #expect(store.themes(film: nil).first == ThemeCount(theme: "grief", records: 10))
        #expect(store.themes(film: "La La Land") == [ThemeCount(theme: "grief", records: 5), ThemeCount(theme: "family", records: 3)])
    }
}

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
