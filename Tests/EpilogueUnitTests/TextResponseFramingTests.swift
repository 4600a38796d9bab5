import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

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
