import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite(.timeLimit(.minutes(1))) struct ListingOrderTests {
    /// FILMS: byte order of titles; the most recently written record gives year and director.
    /// THEMES: most records first, then byte order of the tag.
    @Test func filmsAndThemesAreOrderedAndTheLatestRecordSpeaksForTheFilm() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        var old = TestSupport.content(film: "Zeta", themes: ["b", "a"])
        old.year = 1999
        old.director = "Old Name"
        _ = try await store.put(id: "z1", content: old, expectedVersion: nil)
        var new = old
        new.year = 2001
        new.director = "New Name"
        new.themes = ["a"]
        _ = try await store.put(id: "z2", content: new, expectedVersion: nil)
        _ = try await store.put(id: "e1", content: TestSupport.content(film: "Éclair", themes: ["c"]), expectedVersion: nil)
        _ = try await store.put(id: "a1", content: TestSupport.content(film: "apple", themes: ["c"]), expectedVersion: nil)
        let films = store.films()
        #expect(films.map(\.film) == ["Zeta", "apple", "Éclair"])
        #expect(films.first.map { ($0.year, $0.director, $0.records) } ?? (0, "", 0) == (2001, "New Name", 2))
        // z1 rewritten: now it is the latest.
        _ = try await store.put(id: "z1", content: old, expectedVersion: nil)
        #expect(store.films().first?.director == "Old Name")
        #expect(store.themes(film: nil).map(\.theme) == ["a", "c", "b"])
        #expect(store.themes(film: "Zeta").map { "\($0.theme)=\($0.records)" } == ["a=2", "b=1"])
        #expect(store.themes(film: "No Such Film").isEmpty)
    }
}
