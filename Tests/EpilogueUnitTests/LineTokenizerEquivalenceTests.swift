import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

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
