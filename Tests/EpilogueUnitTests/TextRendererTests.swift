import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

@Suite struct TextRendererTests {
    private let text = TextRenderer(format: .text)
    private let json = TextRenderer(format: .json)

    @Test func recordInTextIsOneFieldPerLineWithTheReadingLast() {
        let lines = text.record(sampleRecord).lines
        let names = lines.prefix(10).map { String($0.prefix { $0 != " " && $0 != ":" }) }
        #expect(names == ["id", "film", "year", "director", "subject", "source", "sourceKind", "themes", "version", "updatedAt"])
        #expect(lines.contains("themes:      what-if, sacrifice"))
        #expect(lines.contains("updatedAt:   2023-11-14T22:13:20.123Z"))
        #expect(lines[10] == "reading:     The montage is a \"what if\".")
        #expect(lines[11] == "             .A second line starting with a dot.")
        #expect(lines.count == 12)
    }

    @Test func multiLineReadingGoesOutAsSeparateLinesAndSurvivesTheTerminator() {
        var record = sampleRecord
        record.content.reading = "first\n.\nlast"
        let back = readBack(TextResponse.ok(body: text.record(record)).serialized())
        #expect(back.rest.isEmpty)
        #expect(Array(back.body.suffix(3)) == ["reading:     first", "             .", "             last"])
    }

    @Test func recordInJSONIsOneLineWithEveryField() throws {
        let lines = json.record(sampleRecord).lines
        #expect(lines.count == 1)
        let object = try #require(jsonObject(lines[0]))
        #expect(Set(object.keys) == ["id", "film", "year", "director", "subject", "reading", "source", "sourceKind", "themes", "version", "updatedAt"])
        #expect(object["id"] as? String == "la-la-land/what-if")
        #expect(object["reading"] as? String == sampleContent.reading)
        #expect(object["year"] as? Int == 2016)
        #expect(object["version"] as? Int == 3)
        #expect(object["sourceKind"] as? String == "director")
        #expect(object["themes"] as? [String] == ["what-if", "sacrifice"])
        #expect(object["updatedAt"] as? String == "2023-11-14T22:13:20.123Z")
    }

    @Test func jsonKeysAreSortedSoOutputIsDeterministic() {
        let line = json.themes([(theme: "grief", records: 4)]).lines[0]
        #expect(line == #"{"records":4,"theme":"grief"}"#)
    }

    @Test func jsonEscapesQuotesBackslashesAndControlCharactersOnOneLine() throws {
        var record = sampleRecord
        record.content.reading = "quote \" backslash \\ newline \n cr \r tab \t bell \u{7} sep \u{2028} é 🎬 </script>"
        let wire = TextResponse.ok(body: json.record(record)).serialized()
        let back = readBack(wire)
        #expect(back.body.count == 1)
        #expect(back.rest.isEmpty)
        let object = try #require(jsonObject(back.body[0]))
        #expect(object["reading"] as? String == record.content.reading)
    }

    @Test func everyJSONListIsOneValidObjectPerLine() throws {
        let outputs: [TextBody] = [
            json.recordList([sampleRecord, sampleRecord]),
            json.hits([SearchHit(id: "a", score: -1.25, film: "F", subject: "S", snippet: "…[dream] \"x\"…")]),
            json.films([(film: "La La Land", year: 2016, director: "Damien Chazelle", records: 42)]),
            json.themes([(theme: "grief", records: 4), (theme: "love", records: 2)]),
            json.stats([(name: "records", value: "58"), (name: "store_address", value: "127.0.0.1:7821")]),
        ]
        for body in outputs {
            let back = readBack(TextResponse.ok(body: body).serialized())
            #expect(back.body.count == body.lines.count)
            for line in back.body { #expect(jsonObject(line) != nil, "\(line)") }
        }
    }

    @Test func jsonObjectsHaveTheDocumentedKeys() throws {
        let hit = try #require(jsonObject(json.hits([SearchHit(id: "a", score: -1.5, film: "F", subject: "S", snippet: "x")]).lines[0]))
        #expect(Set(hit.keys) == ["id", "score", "film", "subject", "snippet"])
        #expect(hit["score"] as? Double == -1.5)
        let film = try #require(jsonObject(json.films([(film: "F", year: 2016, director: "D", records: 3)]).lines[0]))
        #expect(Set(film.keys) == ["film", "year", "director", "records"])
        #expect(film["records"] as? Int == 3)
        let figure = try #require(jsonObject(json.stats([(name: "records", value: "58")]).lines[0]))
        #expect(figure["name"] as? String == "records")
        #expect(figure["value"] as? String == "58")
    }

    @Test func jsonWithANonFiniteScoreStaysValidJSON() {
        let lines = json.hits([SearchHit(id: "a", score: .nan, film: "F", subject: "S", snippet: "x")]).lines
        #expect(lines.count == 1)
        #expect(jsonObject(lines[0]) != nil)
    }

    @Test func findRowsAreAlignedColumns() throws {
        var other = sampleRecord
        other.id = "a-real-pain/x"
        other.content.film = "A Real Pain"
        other.content.subject = "airport ending"
        other.content.sourceKind = .cast
        let lines = text.recordList([sampleRecord, other]).lines
        #expect(lines == [
            "ID                  FILM         SUBJECT         SOURCE",
            "la-la-land/what-if  La La Land   epilogue        director",
            "a-real-pain/x       A Real Pain  airport ending  cast",
        ])
    }

    @Test func searchHitsShowRankScoreWithThreeDecimalsIDAndSnippet() {
        let lines = text.hits([
            SearchHit(id: "la-la-land/a", score: -1.0034, film: "La La Land", subject: "after the audition", snippet: "it is her [dream]"),
            SearchHit(id: "la-la-land/bb", score: -0.98512, film: "La La Land", subject: "epilogue montage", snippet: "The [dream] sequence"),
        ]).lines
        #expect(lines == [
            " 1.   -1.003  la-la-land/a   La La Land / after the audition",
            "              it is her [dream]",
            " 2.   -0.985  la-la-land/bb  La La Land / epilogue montage",
            "              The [dream] sequence",
        ])
    }

    @Test func filmsThemesAndStatsAreTables() {
        #expect(text.films([(film: "A Real Pain", year: 2024, director: "Jesse Eisenberg", records: 13),
                            (film: "La La Land", year: 2016, director: "Damien Chazelle", records: 42)]).lines == [
            "FILM         YEAR  DIRECTOR         RECORDS",
            "A Real Pain  2024  Jesse Eisenberg  13",
            "La La Land   2016  Damien Chazelle  42",
        ])
        #expect(text.themes([(theme: "family", records: 4), (theme: "open-ending", records: 1)]).lines == [
            "THEME        RECORDS", "family       4", "open-ending  1",
        ])
        #expect(text.stats([(name: "records", value: "58"), (name: "gateway_connections", value: "1")]).lines == [
            "NAME                 VALUE", "records              58", "gateway_connections  1",
        ])
    }

    @Test func emptyListsRenderAHeaderInTextAndNothingInJSON() {
        #expect(text.recordList([]).lines == ["ID  FILM  SUBJECT  SOURCE"])
        #expect(json.recordList([]).isEmpty)
        #expect(text.hits([]).isEmpty)
    }
}
