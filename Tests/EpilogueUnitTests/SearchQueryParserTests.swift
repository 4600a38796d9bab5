import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct SearchQueryParserTests {
    typealias P = SearchQuery.Phrase
    private func parse(_ text: String) throws -> SearchQuery.Node? { try SearchQuery(parsing: text).root }
    /// Query words are stemmed as the index's terms are.
    private func word(_ w: String, prefix: Bool = false, column: Int? = nil) -> SearchQuery.Node { .phrase(P(terms: [PorterStemmer.stem(w)], prefix: prefix, column: column)) }
    private func stems(_ words: String...) -> [String] { words.map(PorterStemmer.stem) }

    @Test func barewordsAreAllRequiredAndPunctuationSplitsThem() throws {
        #expect(try parse("dream love") == .and([word("dream"), word("love")]))
        #expect(try parse("one-woman") == .and([word("one"), word("woman")]))
        #expect(try parse("Café") == word("cafe"))
        #expect(try parse("") == nil)
        #expect(try parse("  ,,, ") == nil)
        #expect(try parse("dream ,,,") == word("dream"))
    }

    @Test func phrasesPrefixesAndColumns() throws {
        #expect(try parse("\"one-woman show\"") == .phrase(P(terms: stems("one", "woman", "show"))))
        #expect(try parse("\"say \"\"hi\"\"\"") == .phrase(P(terms: stems("say", "hi"))))
        #expect(try parse("dre*") == word("dre", prefix: true))
        #expect(try parse("\"city of\"*") == .phrase(P(terms: stems("city", "of"), prefix: true)))
        #expect(try parse("reading:dream") == word("dream", column: 2))
        #expect(try parse("Subject:(airport OR \"last scene\")") == .or([word("airport", column: 1), .phrase(P(terms: stems("last", "scene"), column: 1))]))
        #expect(try parse("7:40") == .and([word("7"), word("40")]), "a colon after a non-column is punctuation")
    }

    @Test func operatorsBindNotThenAndThenOr() throws {
        #expect(try parse("a OR b c") == .or([word("a"), .and([word("b"), word("c")])]))
        #expect(try parse("a b NOT c") == .and([word("a"), .not(word("b"), word("c"))]))
        #expect(try parse("a NOT b NOT c") == .not(.not(word("a"), word("b")), word("c")))
        #expect(try parse("(a OR b) AND c") == .and([.or([word("a"), word("b")]), word("c")]))
        #expect(try parse("a (b c)") == .and([word("a"), word("b"), word("c")]))
        #expect(try parse("dream or quokka") == .and([word("dream"), word("or"), word("quokka")]), "lower-case or is a word")
    }

    @Test func malformedQueriesSayWhatAndWhere() {
        func error(_ text: String) -> String? {
            do { _ = try SearchQuery(parsing: text); return nil } catch { return error.description }
        }
        #expect(error("dream (quokka") == "unbalanced parenthesis at 7")
        #expect(error("dream quokka)") == "unbalanced parenthesis at 13")
        #expect(error("dream OR") == "expected a word after OR at 9")
        #expect(error("OR dream") == "expected a word before OR at 1")
        #expect(error("dream NOT") == "expected a word after NOT at 10")
        #expect(error("a AND OR b") == "expected a word after AND at 7")
        #expect(error("dream ()") == "empty parentheses at 7")
        #expect(error("\"one woman") == "unterminated quote at 1")
        #expect(error("dream *") == "'*' must follow a word at 7")
        #expect(error("reading:") == "expected a word or group after 'reading:' at 1")
    }

    /// Seeded random strings over the syntax's characters: parsing never crashes, and every error
    /// names a position inside the text (or just after it).
    @Test func randomInputNeverCrashesAndErrorsCarryPositions() {
        let seed = UInt64(ProcessInfo.processInfo.environment["EPILOGUE_FUZZ_SEED"] ?? "") ?? 20_261_129
        print("randomInputNeverCrashesAndErrorsCarryPositions seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let pieces = ["dream", "OR", "AND", "NOT", "(", ")", "\"", "*", ":", "reading:", "film:", " ", " ", "é", "-", "\"\"", "x", "NEAR", "^", "+", "or"]
        var errors = 0
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 12)
            let text = (0..<n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            do {
                _ = try SearchQuery(parsing: text)
            } catch {
                errors += 1
                #expect((1...(text.count + 1)).contains(error.position), "\(text): \(error)")
                #expect(!error.message.isEmpty)
            }
        }
        #expect(errors > 1_000, "the generator should produce malformed queries too")
    }
}
