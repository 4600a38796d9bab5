import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
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
