import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

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
