import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct TokenizerTests {
    /// The scalar-by-scalar tokenizer that `scan` replaced: the reference it is compared with. It
    /// shares `isTokenCharacter` and `fold` with the implementation, so it checks only the byte
    /// scanner; what a token is and how it folds is checked against FTS5 itself in
    /// `TokenizerFTS5OracleTests`.
    static func tokenizeByScalars(_ text: String) -> [SearchToken] {
        var tokens: [SearchToken] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            guard Unicode61Tokenizer.isTokenCharacter(scalars[index]) else {
                index = scalars.index(after: index)
                continue
            }
            let start = index
            var term = String.UnicodeScalarView()
            var ascii = true
            while index < scalars.endIndex, Unicode61Tokenizer.isTokenCharacter(scalars[index]) {
                let scalar = scalars[index]
                if scalar.isASCII {
                    // A–Z → a–z; digits and a–z as they are.
                    term.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
                } else {
                    ascii = false
                    term.append(scalar)
                }
                index = scalars.index(after: index)
            }
            var folded = String(term)
            if !ascii { folded = Unicode61Tokenizer.fold(folded) }
            // A run of combining diacritics alone folds to nothing and is no token.
            if !folded.isEmpty { tokens.append(SearchToken(term: folded, range: start..<index)) }
        }
        return tokens
    }

    @Test func foldsCaseAndRemovesDiacritics() {
        #expect(Unicode61Tokenizer.terms("Café NAÏVE Élan") == ["cafe", "naive", "elan"])
    }

    @Test func splitsOnPunctuationAndApostrophesLikeUnicode61() {
        #expect(Unicode61Tokenizer.terms("Sebastian's jazz-club, \"Seb's\"!") == ["sebastian", "s", "jazz", "club", "seb", "s"])
    }

    @Test func keepsDigitsAndNonLatinLetters() {
        #expect(Unicode61Tokenizer.terms("2016: La La Land — 東京 x2") == ["2016", "la", "la", "land", "東京", "x2"])
    }

    @Test func byteScanGivesTheSameTokensAsTheScalarReference() {
        let seed = TestSeed()
        var generator = seed.generator
        let alphabet = Array("abcXYZ019 .,'-_\t\n\"()éÉÏñß日本語🎬–’\u{301}ǅⅫ٣")
        for _ in 0..<3_000 {
            let text = String((0..<Int.random(in: 0..<60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let reference = Self.tokenizeByScalars(text)
            let tokens = Unicode61Tokenizer.tokenize(text)
            #expect(tokens.map(\.term) == reference.map(\.term), "\(text.debugDescription); \(seed)")
            #expect(tokens.map { String(text.unicodeScalars[$0.range]) } == reference.map { String(text.unicodeScalars[$0.range]) },
                    "\(text.debugDescription); \(seed)")
            #expect(Unicode61Tokenizer.terms(text) == reference.map(\.term), "\(text.debugDescription); \(seed)")
        }
    }

    @Test func rangesPointBackIntoTheText() {
        let text = "The Dream, ended."
        let tokens = Unicode61Tokenizer.tokenize(text)
        #expect(tokens.map { String(text.unicodeScalars[$0.range]) } == ["The", "Dream", "ended"])
    }
}
