import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// Filters ignore case for film, subject, theme and source kind; answers keep the stored spelling.
@Suite struct CaseInsensitiveFilterTests {
    @Test func filmSubjectAndThemeFiltersIgnoreCaseAndAnswersKeepTheStoredSpelling() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(film: "La La Land", subject: "Epilogue", reading: "the dream ends"), expectedVersion: nil)
        _ = try await store.put(id: "b", content: TestSupport.content(film: "Été", subject: "epilogue", reading: "a dream of summer"), expectedVersion: nil)
        for film in ["la la land", "LA LA LAND", "La La Land"] {
            #expect(store.query(RecordFilter(film: film), limit: 10, offset: 0).records.map(\.id) == ["a"], "\(film)")
            let found = try store.search("dream", filter: RecordFilter(film: film), limit: 10)
            #expect(found.results.map(\.film) == ["La La Land"] && found.total == 1, "\(film)")
        }
        #expect(store.query(RecordFilter(film: "été"), limit: 10, offset: 0).records.map(\.film) == ["Été"])
        #expect(store.query(RecordFilter(film: "ete"), limit: 10, offset: 0).total == 0, "case is folded, accents are not")
        #expect(store.query(RecordFilter(subject: "EPILOGUE"), limit: 10, offset: 0).records.map(\.id) == ["a", "b"])
        #expect(try store.search("dream", filter: RecordFilter(subject: "ePiLoGuE"), limit: 10).total == 2)
        #expect(store.query(RecordFilter(theme: "What-If"), limit: 10, offset: 0).total == 2)
        #expect(store.films().map(\.film) == ["La La Land", "Été"])
        #expect(store.themes(film: "la la land").map(\.theme) == ["what-if"])
    }

    @Test func spellingsThatDifferInCaseAreOneFilterTargetUntilTheLastIsDeleted() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        _ = try await store.put(id: "a", content: TestSupport.content(film: "La La Land"), expectedVersion: nil)
        _ = try await store.put(id: "b", content: TestSupport.content(film: "LA LA LAND"), expectedVersion: nil)
        #expect(store.query(RecordFilter(film: "la la land"), limit: 10, offset: 0).records.map(\.id) == ["a", "b"])
        #expect(store.query(RecordFilter(film: "la la land"), limit: 10, offset: 0).records.map(\.film) == ["La La Land", "LA LA LAND"])
        _ = try await store.delete(id: "a", expectedVersion: nil)
        #expect(store.query(RecordFilter(film: "La La Land"), limit: 10, offset: 0).records.map(\.id) == ["b"])
        _ = try await store.put(id: "b", content: TestSupport.content(film: "Whiplash"), expectedVersion: nil)
        #expect(store.query(RecordFilter(film: "la la land"), limit: 10, offset: 0).total == 0)
        #expect(store.query(RecordFilter(film: "WHIPLASH"), limit: 10, offset: 0).records.map(\.id) == ["b"])
    }

    @Test func filtersIgnoreCaseAfterARestartFromTheIndexSnapshot() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        do {
            let store = try await TestSupport.openStore(dir, fsync: .never)
            _ = try await store.put(id: "a", content: TestSupport.content(film: "A Real Pain", subject: "Airport"), expectedVersion: nil)
            store.close()
        }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        #expect(store.query(RecordFilter(film: "a real pain", subject: "AIRPORT"), limit: 10, offset: 0).records.map(\.id) == ["a"])
    }
}
