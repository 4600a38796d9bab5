import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

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
