import EpilogueModel
import EpilogueProtocol
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

private func parse(_ line: String) throws -> TextCommand? {
    try TextCommand.parse(line)
}

/// The refusal a line gets, or nil if it parses.
private func refusal(_ line: String) -> TextCommandError? {
    do {
        _ = try TextCommand.parse(line)
        return nil
    } catch {
        return error
    }
}

/// Reads a serialized answer back the way a client does: split at CRLF, stop at the lone `.`,
/// strip one leading `.` from body lines.
private func readBack(_ wire: String) -> (status: String, body: [String], rest: String) {
    var lines = wire.components(separatedBy: "\r\n")[...]
    let status = lines.popFirst() ?? ""
    var body: [String] = []
    while let line = lines.popFirst() {
        if line == "." { break }
        body.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
    }
    return (status, body, lines.joined(separator: "\r\n"))
}

private func jsonObject(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}

private let sampleContent = RecordContent(
    film: "La La Land", year: 2016, director: "Damien Chazelle", subject: "epilogue",
    reading: "The montage is a \"what if\".\n.A second line starting with a dot.",
    source: "Damien Chazelle, interview", sourceKind: .director, themes: ["what-if", "sacrifice"])

private let sampleRecord = Record(id: "la-la-land/what-if", content: sampleContent, version: 3, updatedAt: 1_700_000_000_123)

@Suite struct LineTokenizerTests {
    @Test func wordsAreSeparatedBySpacesAndTabs() throws {
        let tokens = try LineTokenizer.tokenize("  GET \t a/b   c ")
        #expect(tokens.map(\.value) == ["GET", "a/b", "c"])
        #expect(tokens.allSatisfy { $0.key == nil })
    }

    @Test func quotedValueKeepsSpacesAndUnescapesQuoteBackslashAndNewline() throws {
        let tokens = try LineTokenizer.tokenize(#"SEARCH "a \"b\" c\\d\ne""#)
        #expect(tokens.count == 2)
        #expect(tokens[1].value == "a \"b\" c\\d\ne")
        #expect(tokens[1].quoted)
    }

    @Test func keyValueTakesAQuotedValueAndLowerCasesTheKey() throws {
        let tokens = try LineTokenizer.tokenize(#"FIND FILM="La La Land" limit=5"#)
        #expect(tokens[1] == LineToken(key: "film", value: "La La Land", quoted: true))
        #expect(tokens[2] == LineToken(key: "limit", value: "5", quoted: false))
    }

    @Test func equalsInsideQuotesOrAfterTheFirstStaysInTheValue() throws {
        let tokens = try LineTokenizer.tokenize(#"X "a=b" k=v=w"#)
        #expect(tokens[1] == LineToken(key: nil, value: "a=b", quoted: true))
        #expect(tokens[2] == LineToken(key: "k", value: "v=w", quoted: false))
    }

    @Test func backslashOutsideQuotesIsLiteral() throws {
        #expect(try LineTokenizer.tokenize(#"GET a\b"#).last?.value == #"a\b"#)
    }

    @Test func emptyQuotesGiveAnEmptyWord() throws {
        #expect(try LineTokenizer.tokenize(#"X """#).last == LineToken(key: nil, value: "", quoted: true))
    }

    @Test(arguments: [
        (#"GET "abc"#, "unterminated quote"),
        (#"FIND film="La La"#, "unterminated quote"),
        (#"GET "a\"#, "line ends inside an escape"),
        (#"GET "a\tb""#, #"unknown escape \t (use \", \\ or \n)"#),
    ])
    func malformedQuotingIsABadRequest(line: String, message: String) {
        #expect(refusal(line) == TextCommandError(code: .badRequest, message: message))
    }
}

@Suite struct TextCommandParsingTests {
    @Test(arguments: [
        ("HELP", TextCommand.help(topic: nil)),
        ("HELP search", .help(topic: "SEARCH")),
        ("PING", .ping),
        ("FILMS", .films),
        ("THEMES", .themes(film: nil)),
        (#"THEMES film="A Real Pain""#, .themes(film: "A Real Pain")),
        ("GET la-la-land/x", .get(id: "la-la-land/x")),
        ("FIND", .find(RecordFilter(), limit: 20, offset: 0)),
        (#"FIND film="La La Land" theme=grief source=critic subject=ending limit=5 offset=10"#,
         .find(RecordFilter(film: "La La Land", theme: "grief", sourceKind: .critic, subject: "ending"), limit: 5, offset: 10)),
        ("SEARCH dream", .search(text: "dream", RecordFilter(), limit: 10)),
        (#"SEARCH montage "dream sequence" film="La La Land" theme=love source=director limit=3"#,
         // Quotes pass through: they make a phrase in the store's query language.
         .search(text: #"montage "dream sequence""#, RecordFilter(film: "La La Land", theme: "love", sourceKind: .director), limit: 3)),
        ("SEARCH (dream OR quokka) NOT reading:jazz* offset=10", .search(text: "(dream OR quokka) NOT reading:jazz*", RecordFilter(), limit: 10, offset: 10)),
        (#"PUT demo/1 film="La La Land" year=2016 director="Damien Chazelle" subject=epilogue reading="A what-if.\nTwo lines." source=me sourceKind=audience themes="what-if, love" ifversion=0"#,
         .put(id: "demo/1", content: RecordContent(film: "La La Land", year: 2016, director: "Damien Chazelle", subject: "epilogue",
                                                   reading: "A what-if.\nTwo lines.", source: "me", sourceKind: .audience, themes: ["what-if", "love"]),
              ifVersion: 0)),
        ("DEL demo/1", .delete(id: "demo/1", ifVersion: nil)),
        ("DEL demo/1 ifversion=4", .delete(id: "demo/1", ifVersion: 4)),
        ("DELETE demo/1", .delete(id: "demo/1", ifVersion: nil)),
        ("STATS", .stats),
        ("FORMAT json", .format(.json)),
        ("FORMAT TEXT", .format(.text)),
        ("AUTH \"s3cret token\"", .auth(token: "s3cret token")),
        ("QUIT", .quit),
        ("EXIT", .quit),
    ])
    func everyCommandParses(line: String, expected: TextCommand) throws {
        #expect(try parse(line) == expected)
    }

    @Test func commandNamesAndOptionKeysAreCaseInsensitive() throws {
        let expected = TextCommand.find(RecordFilter(film: "La La Land", sourceKind: .director), limit: 5, offset: 0)
        #expect(try parse(#"find FILM="La La Land" Source=DIRECTOR LiMiT=5"#) == expected)
        #expect(try parse("pInG") == .ping)
        #expect(try parse("put x film=F YEAR=2016 director=D subject=S reading=R source=s SOURCEKIND=cast IfVersion=2")
                == .put(id: "x", content: RecordContent(film: "F", year: 2016, director: "D", subject: "S", reading: "R",
                                                        source: "s", sourceKind: .cast, themes: []), ifVersion: 2))
    }

    @Test func valuesKeepTheirCase() throws {
        #expect(try parse("GET La-La/X") == .get(id: "La-La/X"))
        #expect(try parse("AUTH AbC") == .auth(token: "AbC"))
    }

    @Test(arguments: ["", " ", "\t", "  \t  "])
    func blankLineIsIgnored(line: String) throws {
        #expect(try parse(line) == nil)
    }

    @Test func limitsDefaultAndStayInRange() throws {
        #expect(try parse("FIND limit=1000") == .find(RecordFilter(), limit: 1000, offset: 0))
        #expect(try parse("SEARCH a limit=100") == .search(text: "a", RecordFilter(), limit: 100))
        for line in ["FIND limit=0", "FIND limit=1001", "FIND limit=abc", "FIND limit=-1", "FIND limit="] {
            #expect(refusal(line) == TextCommandError(code: .badRequest, message: "limit must be an integer between 1 and 1000"), "\(line)")
        }
        #expect(refusal("SEARCH a limit=101")?.message == "limit must be an integer between 1 and 100")
        #expect(refusal("FIND offset=-1")?.message.hasPrefix("offset must be an integer between 0 and") == true)
    }

    @Test func unknownOptionNamesTheOptionsTheCommandTakes() {
        #expect(refusal("FIND colour=red") == TextCommandError(
            code: .badRequest, message: "unknown option 'colour' for FIND (expected film, limit, offset, source, subject, theme)"))
        // SEARCH takes FIND's options.
        #expect(refusal("SEARCH a colour=x")?.message == "unknown option 'colour' for SEARCH (expected film, fuzzy, limit, offset, source, subject, theme)")
        #expect(refusal("PING x=1")?.message == "unknown option 'x' for PING (it takes none)")
        #expect(refusal("PUT x colour=red")?.message.contains("sourceKind") == true)
    }

    @Test func unknownCommandIsItsOwnCode() {
        #expect(refusal("FROB") == TextCommandError(code: .unknownCommand, message: "'FROB' is not a command (try HELP)"))
        #expect(refusal("film=x")?.code == .unknownCommand)
        #expect(refusal("film=x")?.message == "'film=x' is not a command (try HELP)")
        #expect(refusal(#""PING""#)?.code == .unknownCommand)
    }

    /// docs/TEXT_PROTOCOL.md: "Errors that quote what was typed shorten it to 60 characters."
    @Test func echoedInputIsShortenedToSixtyCharacters() throws {
        let message = try #require(refusal(String(repeating: "X", count: 10_000))).message
        #expect(message == "'" + String(repeating: "X", count: 60) + "…' is not a command (try HELP)")
        let exactly60 = String(repeating: "Y", count: 60)
        #expect(try #require(refusal(exactly60)).message == "'\(exactly60)' is not a command (try HELP)")
        let sixtyOne = String(repeating: "Z", count: 61)
        #expect(try #require(refusal(sixtyOne)).message == "'\(sixtyOne.prefix(60))…' is not a command (try HELP)")
    }

    @Test(arguments: ["PING extra", "GET a b", "FILMS x", "FORMAT json yaml", "QUIT now"])
    func extraArgumentIsABadRequest(line: String) {
        #expect(refusal(line)?.code == .badRequest)
        #expect(refusal(line)?.message.hasPrefix("unexpected argument") == true)
    }

    @Test(arguments: ["GET", "DEL", "AUTH", "FORMAT", "SEARCH", "SEARCH limit=3", "PUT"])
    func missingArgumentIsABadRequest(line: String) {
        #expect(refusal(line)?.code == .badRequest)
    }

    @Test func repeatedOptionIsABadRequest() {
        #expect(refusal("FIND film=A film=B") == TextCommandError(code: .badRequest, message: "option 'film' given twice"))
        #expect(refusal("FIND limit=1 LIMIT=2")?.message == "option 'limit' given twice")
    }

    @Test func emptyFilterIsABadRequest() {
        #expect(refusal("FIND film=")?.message == "film must not be empty")
        #expect(refusal(#"SEARCH a theme="""#)?.message == "theme must not be empty")
        #expect(refusal("THEMES film=")?.message == "film must not be empty")
    }

    @Test func sourceFilterIsASourceKind() {
        #expect(refusal("FIND source=fan") == TextCommandError(
            code: .badRequest, message: "source must be one of director, cast, critic, article, audience (not 'fan')"))
    }

    @Test func formatTakesTextOrJSON() {
        #expect(refusal("FORMAT xml") == TextCommandError(code: .badRequest, message: "FORMAT takes text or json, not 'xml'"))
    }

    @Test func ifVersionMustBeANonNegativeInteger() {
        #expect(refusal("DEL x ifversion=-1")?.message.hasPrefix("ifversion must be a non-negative integer") == true)
        #expect(refusal("DEL x ifversion=one")?.code == .badRequest)
    }
}

@Suite struct PutParsingTests {
    private static let complete = ["film=F", "year=2016", "director=D", "subject=S", "reading=R", "source=s", "sourceKind=critic"]

    private func put(without field: String? = nil, replacing: (String, String)? = nil, adding extra: [String] = []) -> String {
        var parts = Self.complete.filter { field == nil || !$0.hasPrefix(field! + "=") }
        if let (key, value) = replacing { parts = parts.map { $0.hasPrefix(key + "=") ? "\(key)=\(value)" : $0 } }
        return (["PUT", "demo/1"] + parts + extra).joined(separator: " ")
    }

    @Test func buildsRecordContentWithThemesSplitOnCommas() throws {
        let command = try parse(put(adding: [#"themes="grief,,love , what-if""#]))
        guard case .put(let id, let content, let ifVersion)? = command else {
            Issue.record("not a PUT: \(String(describing: command))")
            return
        }
        #expect(id == "demo/1")
        #expect(ifVersion == nil)
        #expect(content == RecordContent(film: "F", year: 2016, director: "D", subject: "S", reading: "R",
                                         source: "s", sourceKind: .critic, themes: ["grief", "love", "what-if"]))
    }

    @Test(arguments: ["film", "year", "director", "subject", "reading", "source", "sourceKind"])
    func missingFieldIsNamed(field: String) throws {
        let message = try #require(refusal(put(without: field))?.message)
        #expect(message.hasPrefix("missing field '\(field)'"))
    }

    @Test func firstMissingFieldInDocumentedOrderIsNamed() {
        #expect(refusal("PUT x film=F")?.message.hasPrefix("missing field 'year'") == true)
        #expect(refusal("PUT x sourceKind=fan")?.message.hasPrefix("missing field 'film'") == true)
    }

    @Test func unknownFieldIsNamed() throws {
        let error = try #require(refusal(put(adding: ["colour=red"])))
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("unknown option 'colour' for PUT"))
    }

    @Test(arguments: ["2016.5", "twenty", "\"\""])
    func yearThatIsNotAnIntegerIsNamed(year: String) throws {
        let error = try #require(refusal(put(replacing: ("year", year))))
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("year must be an integer"))
    }

    @Test func invalidSourceKindIsNamed() throws {
        let error = try #require(refusal(put(replacing: ("sourceKind", "fan"))))
        #expect(error == TextCommandError(code: .badRequest, message: "sourceKind must be one of director, cast, critic, article, audience (not 'fan')"))
    }

    @Test func missingIDIsABadRequest() {
        #expect(refusal("PUT film=F")?.message.hasPrefix("PUT needs id") == true)
    }
}

@Suite struct LineDecodingTests {
    @Test func trailingCRIsDropped() throws {
        #expect(try TextCommand.decodeLine(ByteBuffer(string: "PING\r")) == "PING")
        #expect(try TextCommand.parse(line: ByteBuffer(string: "ping\r")) == .ping)
    }

    @Test func onlyOneTrailingCRIsDroppedAndInnerCRStays() throws {
        #expect(try TextCommand.decodeLine(ByteBuffer(string: "a\rb\r\r")) == "a\rb\r")
    }

    @Test func lineOfOnlyCRIsBlank() throws {
        #expect(try TextCommand.parse(line: ByteBuffer(string: "\r")) == nil)
        #expect(try TextCommand.parse(line: ByteBuffer()) == nil)
    }

    @Test func utf8IsKept() throws {
        #expect(try TextCommand.parse(line: ByteBuffer(string: #"SEARCH café film="Amélie""#))
                == .search(text: "café", RecordFilter(film: "Amélie"), limit: 10))
    }

    @Test(arguments: [[0xFF], [0x50, 0xC3], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0x47, 0x45, 0x54, 0x20, 0x80, 0x0D]] as [[UInt8]])
    func invalidUTF8IsABadRequest(bytes: [UInt8]) {
        #expect(throws: TextCommandError(code: .badRequest, message: "line is not valid UTF-8")) {
            try TextCommand.decodeLine(ByteBuffer(bytes: bytes))
        }
    }
}

@Suite struct TextResponseFramingTests {
    @Test func okWithoutBodyIsStatusThenTerminator() {
        #expect(TextResponse.ok().serialized() == "OK\r\n.\r\n")
        #expect(TextResponse.ok("PONG").serialized() == "OK PONG\r\n.\r\n")
    }

    @Test func errorIsCodeThenMessageThenTerminator() {
        let response = TextResponse.error(code: .notFound, message: "no record with id 'x'")
        #expect(response.serialized() == "ERR NOT_FOUND no record with id 'x'\r\n.\r\n")
        #expect(response.isError)
        #expect(response.errorCode == .notFound)
        #expect(TextResponse.ok("x").errorCode == nil)
    }

    @Test func everyLineEndsWithCRLFAndTheLastIsALoneDot() {
        let wire = TextResponse.ok("2 rows", body: ["a", "b"]).serialized()
        #expect(wire == "OK 2 rows\r\na\r\nb\r\n.\r\n")
        #expect(!wire.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func bodyLinesStartingWithADotAreStuffed() {
        let body = [".", "..", ".hack", "a.b", "", ".\u{301}accent"]
        let wire = TextResponse.ok(body: body).serialized()
        #expect(wire == "OK\r\n..\r\n...\r\n..hack\r\na.b\r\n\r\n..\u{301}accent\r\n.\r\n")
        #expect(readBack(wire).body == body)
    }

    @Test func lineBreaksInsideABodyLineBecomeSeparateStuffedLines() {
        for line in ["a\n.", "a\r\n.", "a\r.", "a\n\r\n."] {
            let wire = TextResponse.ok(body: [line]).serialized()
            let back = readBack(wire)
            #expect(back.rest.isEmpty, "terminator forged by \(line.debugDescription): \(wire.debugDescription)")
            #expect(back.body.first == "a")
            #expect(back.body.last == ".")
        }
    }

    @Test func statusLineNeverHoldsALineBreakOrControlCharacter() {
        let response = TextResponse.error(code: .internalError, message: "bad\r\n.\r\nthing\nhere\r\u{1B}[31m\u{2028}end")
        #expect(response.statusLine == "ERR INTERNAL bad . thing here  [31m end")
        let summary = TextResponse.ok("two\nlines")
        #expect(summary.statusLine == "OK two lines")
        #expect(response.serialized().components(separatedBy: "\r\n") == [response.statusLine, ".", ""])
    }

    @Test func arbitraryBodiesRoundTripThroughAClientReader() {
        let seed = TestSeed()
        var generator = seed.generator
        let alphabet: [String] = [".", "a", " ", "é", "{", "\"", "\\"]
        for _ in 0..<200 {
            let body = (0..<Int.random(in: 0...5, using: &generator)).map { _ in
                (0..<Int.random(in: 0...6, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            }
            let back = readBack(TextResponse.ok("n", body: body).serialized())
            #expect(back.status == "OK n", "\(seed)")
            #expect(back.body == body, "\(seed)")
            #expect(back.rest.isEmpty, "\(seed)")
        }
    }
}

@Suite struct TextRendererTests {
    private let text = TextRenderer(format: .text)
    private let json = TextRenderer(format: .json)

    @Test func recordInTextIsOneFieldPerLineWithTheReadingLast() {
        let lines = text.record(sampleRecord)
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
        let lines = json.record(sampleRecord)
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
        let line = json.themes([(theme: "grief", records: 4)])[0]
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
        let outputs: [[String]] = [
            json.recordList([sampleRecord, sampleRecord]),
            json.hits([SearchHit(id: "a", score: -1.25, film: "F", subject: "S", snippet: "…[dream] \"x\"…")]),
            json.films([(film: "La La Land", year: 2016, director: "Damien Chazelle", records: 42)]),
            json.themes([(theme: "grief", records: 4), (theme: "love", records: 2)]),
            json.stats([(name: "records", value: "58"), (name: "store_address", value: "127.0.0.1:7821")]),
        ]
        for lines in outputs {
            let back = readBack(TextResponse.ok(body: lines).serialized())
            #expect(back.body.count == lines.count)
            for line in back.body { #expect(jsonObject(line) != nil, "\(line)") }
        }
    }

    @Test func jsonObjectsHaveTheDocumentedKeys() throws {
        let hit = try #require(jsonObject(json.hits([SearchHit(id: "a", score: -1.5, film: "F", subject: "S", snippet: "x")])[0]))
        #expect(Set(hit.keys) == ["id", "score", "film", "subject", "snippet"])
        #expect(hit["score"] as? Double == -1.5)
        let film = try #require(jsonObject(json.films([(film: "F", year: 2016, director: "D", records: 3)])[0]))
        #expect(Set(film.keys) == ["film", "year", "director", "records"])
        #expect(film["records"] as? Int == 3)
        let figure = try #require(jsonObject(json.stats([(name: "records", value: "58")])[0]))
        #expect(figure["name"] as? String == "records")
        #expect(figure["value"] as? String == "58")
    }

    @Test func jsonWithANonFiniteScoreStaysValidJSON() {
        let lines = json.hits([SearchHit(id: "a", score: .nan, film: "F", subject: "S", snippet: "x")])
        #expect(lines.count == 1)
        #expect(jsonObject(lines[0]) != nil)
    }

    @Test func findRowsAreAlignedColumns() throws {
        var other = sampleRecord
        other.id = "a-real-pain/x"
        other.content.film = "A Real Pain"
        other.content.subject = "airport ending"
        other.content.sourceKind = .cast
        let lines = text.recordList([sampleRecord, other])
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
        ])
        #expect(lines == [
            " 1.   -1.003  la-la-land/a   La La Land / after the audition",
            "              it is her [dream]",
            " 2.   -0.985  la-la-land/bb  La La Land / epilogue montage",
            "              The [dream] sequence",
        ])
    }

    @Test func filmsThemesAndStatsAreTables() {
        #expect(text.films([(film: "A Real Pain", year: 2024, director: "Jesse Eisenberg", records: 13),
                            (film: "La La Land", year: 2016, director: "Damien Chazelle", records: 42)]) == [
            "FILM         YEAR  DIRECTOR         RECORDS",
            "A Real Pain  2024  Jesse Eisenberg  13",
            "La La Land   2016  Damien Chazelle  42",
        ])
        #expect(text.themes([(theme: "family", records: 4), (theme: "open-ending", records: 1)]) == [
            "THEME        RECORDS", "family       4", "open-ending  1",
        ])
        #expect(text.stats([(name: "records", value: "58"), (name: "gateway_connections", value: "1")]) == [
            "NAME                 VALUE", "records              58", "gateway_connections  1",
        ])
    }

    @Test func emptyListsRenderAHeaderInTextAndNothingInJSON() {
        #expect(text.recordList([]) == ["ID  FILM  SUBJECT  SOURCE"])
        #expect(json.recordList([]).isEmpty)
        #expect(text.hits([]).isEmpty)
    }
}

@Suite struct TextHelpTests {
    @Test func overviewListsEveryCommandWithADescription() {
        let help = TextHelp.overview()
        #expect(!help.isError)
        for name in TextCommand.names {
            let row = help.body.first { $0.hasPrefix(name + " ") }
            #expect(row != nil, "HELP misses \(name)")
            #expect((row?.count ?? 0) > name.count + 10, "\(name) has no description")
        }
    }

    @Test(arguments: TextCommand.names)
    func topicGivesUsageDescriptionAndAnExampleThatParses(name: String) throws {
        let help = TextHelp.topic(name)
        #expect(!help.isError)
        #expect(help.body.first?.hasPrefix("usage:   \(name)") == true)
        #expect(help.body.count >= 3)
        let example = try #require(help.body.last)
        #expect(example.hasPrefix("example: "))
        let command = try parse(String(example.dropFirst("example: ".count)))
        #expect(command?.name == name)
    }

    @Test func helpForAnAliasOrAnUnknownCommand() {
        #expect(TextHelp.topic("DELETE").statusLine == "OK DEL")
        #expect(TextHelp.topic("NOPE").errorCode == .badRequest)
    }
}

@Suite struct TelnetFilterTests {
    private static let iac: UInt8 = 255

    @Test func plainBytesPassThrough() {
        var filter = TelnetFilter()
        #expect(filter.filter(Array("PING\r\n".utf8)) == Array("PING\r\n".utf8))
        #expect(!filter.isInsideSequence)
    }

    @Test func doubledIACIsALiteral255() {
        var filter = TelnetFilter()
        #expect(filter.filter([65, 255, 255, 66]) == [65, 255, 66])
    }

    @Test(arguments: [251, 252, 253, 254] as [UInt8])
    func optionNegotiationIsRemovedWithItsOptionByte(verb: UInt8) {
        var filter = TelnetFilter()
        #expect(filter.filter([65, 255, verb, 1, 66]) == [65, 66])
    }

    @Test func subnegotiationIsSkippedWholeIncludingEscapedIAC() {
        var filter = TelnetFilter()
        // IAC SB NAWS 0 80 IAC IAC 0 24 IAC SE: the inner IAC IAC is data of the subnegotiation.
        #expect(filter.filter([65, 255, 250, 31, 0, 80, 255, 255, 0, 24, 255, 240, 66]) == [65, 66])
    }

    @Test func twoByteCommandsAreRemoved() {
        var filter = TelnetFilter()
        // NOP, AYT, GA, and an SE outside a subnegotiation.
        #expect(filter.filter([255, 241, 65, 255, 246, 255, 249, 255, 240, 66]) == [65, 66])
    }

    @Test func ctrlCLeavesNothingAndTheLineIsIgnored() throws {
        var filter = TelnetFilter()
        // IAC IP, IAC DO TIMING-MARK, then the CR LF telnet may send after it.
        let kept = filter.filter([255, 244, 255, 253, 6])
        #expect(kept.isEmpty)
        #expect(!filter.isInsideSequence)
        let line = filter.filter([255, 244, 255, 253, 6] + Array("\r".utf8))
        #expect(try TextCommand.parse(line: ByteBuffer(bytes: line)) == nil)
    }

    @Test func sequenceSplitAcrossChunksIsStillRemovedAtEverySplitPoint() {
        let stream: [UInt8] = Array("FI".utf8) + [255, 251, 1] + Array("ND".utf8) + [255, 250, 24, 0, 255, 255, 65, 255, 240]
            + [255, 255] + [255, 244, 255, 253, 6] + Array(" x\r\n".utf8)
        var whole = TelnetFilter()
        let expected = whole.filter(stream)
        #expect(expected == Array("FIND".utf8) + [255] + Array(" x\r\n".utf8))
        for cut in 0...stream.count {
            var filter = TelnetFilter()
            let out = filter.filter(stream[..<cut]) + filter.filter(stream[cut...])
            #expect(out == expected, "split at \(cut)")
        }
        var byByte = TelnetFilter()
        #expect(stream.flatMap { byByte.filter([$0]) } == expected)
    }

    @Test func stateIsReportedWhileInsideASequence() {
        var filter = TelnetFilter()
        _ = filter.filter([255])
        #expect(filter.isInsideSequence)
        _ = filter.filter([253])
        #expect(filter.isInsideSequence)
        _ = filter.filter([1])
        #expect(!filter.isInsideSequence)
    }
}

/// The byte-level tokenizer against the scalar-by-scalar one it replaced, on random lines made of
/// the characters that matter (quotes, escapes, `=`, spaces, tabs) and multi-byte ones.
@Suite struct LineTokenizerEquivalenceTests {
    /// The previous implementation, kept as the reference.
    static func reference(_ line: String) throws(TextCommandError) -> [LineToken] {
        var tokens: [LineToken] = []
        var chars = Array(line.unicodeScalars)[...]
        while true {
            while let first = chars.first, first == " " || first == "\t" { chars.removeFirst() }
            guard !chars.isEmpty else { return tokens }
            var key: String?
            var current = ""
            var quoted = false
            var inQuotes = false
            while let c = chars.first {
                if inQuotes {
                    chars.removeFirst()
                    if c == "\\" {
                        guard let next = chars.popFirst() else { throw .badRequest("line ends inside an escape") }
                        switch next {
                        case "\"": current.unicodeScalars.append("\"")
                        case "\\": current.unicodeScalars.append("\\")
                        case "n": current.unicodeScalars.append("\n")
                        default: throw .badRequest("unknown escape \\\(next) (use \\\", \\\\ or \\n)")
                        }
                    } else if c == "\"" {
                        inQuotes = false
                    } else {
                        current.unicodeScalars.append(c)
                    }
                    continue
                }
                if c == " " || c == "\t" { break }
                chars.removeFirst()
                if c == "\"" {
                    inQuotes = true
                    quoted = true
                } else if c == "=", key == nil, !quoted, !current.isEmpty {
                    key = current.lowercased()
                    current = ""
                } else {
                    current.unicodeScalars.append(c)
                }
            }
            if inQuotes { throw .badRequest("unterminated quote") }
            tokens.append(LineToken(key: key, value: current, quoted: quoted))
        }
    }

    @Test func byteTokenizerAgreesWithTheScalarReference() {
        let seed = TestSeed()
        var generator = seed.generator
        let alphabet: [String] = ["a", "B", "=", "\"", "\\", "n", " ", "\t", "é", "Ö", "日", "🎬", "x", "\\n"]
        for _ in 0..<5_000 {
            let line = (0..<Int.random(in: 0..<24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            let expected = Result { () throws(TextCommandError) in try Self.reference(line) }
            let actual = Result { () throws(TextCommandError) in try LineTokenizer.tokenize(line) }
            #expect(actual == expected, "\(line.debugDescription); \(seed)")
        }
    }
}

/// The text protocol's error vocabulary is `TextErrorCode`: the documented table lists exactly its
/// cases, and the store's codes map onto it without blaming the client for server faults.
@Suite struct TextErrorCodeTests {
    @Test func theStatusCodeTableListsExactlyTheEnumsCases() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/TEXT_PROTOCOL.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Status codes").dropFirst().first?.components(separatedBy: "\n## ").first)
        let documented = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map {
            $0.split(separator: "`")[1]
        }.map(String.init)
        #expect(documented == TextErrorCode.allCases.map(\.rawValue))
    }

    @Test func serverFaultsAreNeverReportedAsTheClientsMistake() {
        for code in ErrorCode.allCases {
            let text = TextErrorCode(storeCode: code)
            switch code {
            case .versionUnsupported, .unknownMessage, .protocolViolation, .internalError:
                #expect(text == .internalError, "\(code)")
            case .unauthorized, .busy:
                #expect(text == .storeUnavailable, "\(code): the gateway's store link, not the client")
            default:
                #expect(text.rawValue == code.name, "\(code) keeps its name")
            }
        }
    }

    @Test func theStatusLineIsRenderedFromTheCode() {
        #expect(TextResponse.error(code: .storeUnavailable, message: "down").statusLine == "ERR STORE_UNAVAILABLE down")
        #expect(TextResponse.error(code: .internalError, message: "x").errorCode == .internalError)
        #expect(TextResponse.ok("fine").errorCode == nil)
    }
}
