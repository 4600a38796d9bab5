import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

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

    /// A rewrite whose searchable text is unchanged reuses the new version's analysis to unindex
    /// the old one: the index must end exactly as after any other rewrite.
    @Test func rewritingTheSameTextKeepsScoresAndChangingItUnindexesTheOldWords() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(reading: "A montage of dreams, dreams again."), expectedVersion: nil)
        _ = try await store.put(id: "b", content: TestSupport.content(reading: "Dreams alone."), expectedVersion: nil)
        let before = try store.search("dreams", filter: RecordFilter(), limit: 10)
        // Same searchable text, other themes (not searched): the same terms go out and come back in.
        _ = try await store.put(id: "a", content: TestSupport.content(reading: "A montage of dreams, dreams again.", themes: ["other"]),
                                expectedVersion: nil)
        let after = try store.search("dreams", filter: RecordFilter(), limit: 10)
        #expect(after.total == 2)
        #expect(after.results.map(\.id) == before.results.map(\.id))
        #expect(after.results.map(\.score) == before.results.map(\.score))
        _ = try await store.put(id: "a", content: TestSupport.content(reading: "Changed."), expectedVersion: nil)
        #expect(try store.search("montage", filter: RecordFilter(), limit: 10).total == 0)
        #expect(try store.search("dreams", filter: RecordFilter(), limit: 10).results.map(\.id) == ["b"])
    }

    /// Bodies are read from the log when asked for: a read that fails (here the log was cut
    /// under the store) is a storage error, not a corrupt record.
    @Test func aBodyThatCannotBeReadIsAStorageErrorNotACorruptRecord() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        #expect(truncate(dir + "/" + RecordLog.fileName, off_t(RecordLog.header.count)) == 0)
        do {
            _ = try store.get(id: "a")
            Issue.record("a record whose body is gone was decoded")
        } catch {
            guard case .storage = error else {
                Issue.record("expected a storage error, got \(error)")
                return
            }
        }
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
