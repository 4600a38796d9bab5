import EpilogueTestSupport
import Testing
@testable import EpilogueStorage

@Suite struct AnalyzedTermsTests {
    /// The definition: every token stemmed, then grouped by term in order of first occurrence,
    /// from the tokenizer's word arrays. The analysis that streams the words must equal it.
    static func perToken(_ fields: [String]) -> (terms: [String], positions: [[UInt32]], length: Int) {
        var terms: [String] = []
        var positions: [String: [UInt32]] = [:]
        var length = 0
        for (column, field) in fields.enumerated() {
            for (offset, word) in Unicode61Tokenizer.terms(field).enumerated() {
                let term = PorterStemmer.stem(word)
                if positions[term] == nil { terms.append(term) }
                positions[term, default: []].append(PostingList.position(column: column, offset: offset))
                length += 1
            }
        }
        return (terms, terms.map { positions[$0]! }, length)
    }

    @Test func equalsStemmingEveryTokenOnRandomText() {
        let seed = TestSeed()
        var generator = seed.generator
        // Words that share stems ("dream", "dreams", "dreaming"), repeat, and non-ASCII ones.
        let words = ["dream", "dreams", "Dreaming", "dreamed", "the", "a", "ending", "ends", "end", "café", "CAFÉ", "cafe",
                     "relational", "relate", "東京", "x2", "2016", "naïve", "ponies", "pony", "s", "montage", "montages"]
        let separators = [" ", ", ", "-", " — ", "'", "\n"]
        for _ in 0..<500 {
            let fields = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                (0..<Int.random(in: 0..<40, using: &generator)).map { _ in
                    words.randomElement(using: &generator)! + separators.randomElement(using: &generator)!
                }.joined()
            }
            let analyzed = SearchIndex.AnalyzedTerms(fields: fields) { $0 }
            let reference = Self.perToken(fields)
            #expect(analyzed.terms == reference.terms, "\(fields); \(seed)")
            #expect(analyzed.terms.indices.map { Array(analyzed.positions(ofTermAt: $0)) } == reference.positions, "\(fields); \(seed)")
            #expect(analyzed.length == reference.length, "\(fields); \(seed)")
        }
    }

    @Test func termsAreNumberedInOrderOfFirstOccurrence() {
        var numbered: [String] = []
        let analyzed = SearchIndex.AnalyzedTerms(fields: ["Dreams dream DREAMING", "the dreamer ends the end"]) { term -> Int in
            if let known = numbered.firstIndex(of: term) { return known }
            numbered.append(term)
            return numbered.count - 1
        }
        #expect(numbered == ["dream", "the", "dreamer", "end"])
        #expect(analyzed.terms == [0, 1, 2, 3])
        #expect(Array(analyzed.positions(ofTermAt: 0)) == [0, 1, 2].map { PostingList.position(column: 0, offset: $0) })
    }
}
