import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// The ranked page from block-max top-k (plain terms) and from the cursor evaluator (prefix, OR,
/// NOT), against a brute-force bm25 over every live document, on random indexes with removals.
@Suite struct BoundedTopKTests {
    /// Words with skewed frequencies (a few common, many rare), several sharing prefixes.
    static let vocabulary = ["ab", "abc", "abcd", "abd", "bag", "bat", "bath", "cat", "cow", "dim", "dog", "elk",
                             "fig", "fin", "gnu", "hen", "ink", "jam", "jar", "kit", "lox", "mud", "nib", "oak"]
    /// Words a few documents hold each, so idf is not only FTS5's floor of common words.
    static let rare = (UInt8(ascii: "a")...UInt8(ascii: "z")).map { "zq" + String(UnicodeScalar($0)) }
    /// Query words: those that are their own stem (the brute force compares stems).
    static let words = (vocabulary + rare).filter { SearchIndex.terms($0) == [$0] }

    /// A random index of `count` documents (lengths 1–60 words, so bounds differ between blocks),
    /// then about a third removed, enough that some posting lists are rebuilt (`keeping`). Returns
    /// the live documents' terms (all columns) by doc id.
    static func randomIndex(_ rng: inout SplitMix64, count: Int) -> (SearchIndex, [UInt32: [String]]) {
        var index = SearchIndex()
        var fields: [UInt32: [String]] = [:]
        for doc in 1...UInt32(count) {
            let words = (0..<Int(rng.next() % 60) + 1).map { _ in
                // Skewed: a word's index is the smaller of two draws, so low indices are common.
                rng.next() % 8 == 0 ? rare[Int(rng.next() % UInt64(rare.count))]
                    : vocabulary[Int(min(rng.next() % UInt64(vocabulary.count), rng.next() % UInt64(vocabulary.count)))]
            }
            let split = Int(rng.next() % UInt64(words.count + 1))
            let docFields = ["", words[..<split].joined(separator: " "), words[split...].joined(separator: " "), ""]
            index.upsert(docID: doc, fields: docFields)
            fields[doc] = docFields
        }
        for doc in 1...UInt32(count) where rng.next() % 3 == 0 {
            index.remove(docID: doc, fields: fields[doc]!)
            fields[doc] = nil
        }
        return (index, fields.mapValues { $0.flatMap(SearchIndex.terms) })
    }

    /// bm25 of every live document holding every word (prefix words: any term they begin), as
    /// `SearchIndex` defines it, sorted best first, ties to the lower doc id.
    static func bruteForce(_ phrases: [(term: String, prefix: Bool)], matches: ([Int]) -> Bool,
                           documents: [UInt32: [String]]) -> [RankedDocument] {
        let n = documents.count
        let averageLength = Double(documents.values.reduce(0) { $0 + $1.count }) / Double(n)
        func frequency(_ phrase: (term: String, prefix: Bool), _ terms: [String]) -> Int {
            terms.filter { phrase.prefix ? $0.hasPrefix(phrase.term) : $0 == phrase.term }.count
        }
        let idfs = phrases.map { phrase in
            BM25.idf(matching: documents.values.filter { frequency(phrase, $0) > 0 }.count, of: n)
        }
        var ranked: [RankedDocument] = []
        for (doc, terms) in documents {
            let f = phrases.map { frequency($0, terms) }
            guard matches(f) else { continue }
            let lengthFactor = SearchIndex.k1 * (1 - SearchIndex.b + SearchIndex.b * Double(terms.count) / averageLength)
            var score = 0.0
            for (i, idf) in idfs.enumerated() where f[i] > 0 {
                score += idf * (Double(f[i]) * (SearchIndex.k1 + 1)) / (Double(f[i]) + lengthFactor)
            }
            ranked.append(RankedDocument(docID: doc, score: -score))
        }
        return ranked.sorted { $0.score != $1.score ? $0.score < $1.score : $0.docID < $1.docID }
    }

    static func page(_ ranked: [RankedDocument], limit: Int, offset: Int) -> SearchPage {
        SearchPage(hits: Array(ranked.dropFirst(offset).prefix(limit)), total: ranked.count)
    }

    @Test func plainTermsPageEqualsBruteForceWithRemovalsFiltersAndPaging() {
        var rng = SplitMix64(seed: 14)
        for round in 0..<6 {
            // Up to 2,000 documents: lists of the common words span many 64-entry blocks.
            let (index, documents) = Self.randomIndex(&rng, count: [40, 300, 2_000][round % 3])
            for _ in 0..<40 {
                let words = (0..<Int(rng.next() % 3) + 1).map { _ in Self.words[Int(rng.next() % UInt64(Self.words.count))] }
                    .flatMap(SearchIndex.terms)
                let limit = Int(rng.next() % 12) + 1, offset = Int(rng.next() % 3 == 0 ? rng.next() % 30 : 0)
                let filtered = rng.next() % 3 == 0
                let include: ((UInt32) -> Bool)? = filtered ? { $0 % 3 != 1 } : nil
                // The filter narrows the matches, not n or the mean length: those are the whole index's.
                let expected = Self.bruteForce(words.map { ($0, false) }, matches: { $0.allSatisfy { $0 > 0 } }, documents: documents)
                    .filter { include?($0.docID) ?? true }
                let got = index.search(terms: words, limit: limit, offset: offset, where: include)
                #expect(got == Self.page(expected, limit: limit, offset: offset), "round \(round): \(words) limit \(limit) offset \(offset) filtered \(filtered)")
            }
        }
    }

    @Test func prefixOrAndNotPagesEqualBruteForce() throws {
        var rng = SplitMix64(seed: 15)
        for round in 0..<4 {
            let (index, documents) = Self.randomIndex(&rng, count: [60, 1_500][round % 2])
            func word() -> String { Self.words[Int(rng.next() % UInt64(Self.words.count))] }
            for _ in 0..<25 {
                let a = word(), b = word(), p = String(word().prefix(Int(rng.next() % 2) + 1))
                let limit = Int(rng.next() % 10) + 1, offset = Int(rng.next() % 4)
                // (query, its phrases in order, whether a document with those frequencies matches)
                let cases: [(String, [(term: String, prefix: Bool)], ([Int]) -> Bool)] = [
                    ("\(p)*", [(p, true)], { $0[0] > 0 }),
                    ("\(p)* \(a)", [(p, true), (a, false)], { $0[0] > 0 && $0[1] > 0 }),
                    ("\(a) OR \(b)", [(a, false), (b, false)], { $0[0] > 0 || $0[1] > 0 }),
                    ("\(a) NOT \(b)", [(a, false), (b, false)], { $0[0] > 0 && $0[1] == 0 }),
                    ("(\(a) OR \(p)*) NOT \(b)", [(a, false), (p, true), (b, false)], { ($0[0] > 0 || $0[1] > 0) && $0[2] == 0 }),
                ]
                for (text, phrases, matches) in cases {
                    let expected = Self.bruteForce(phrases, matches: matches, documents: documents)
                    let got = index.search(try SearchQuery(parsing: text), limit: limit, offset: offset)
                    #expect(got == Self.page(expected, limit: limit, offset: offset), "round \(round): \(text) limit \(limit) offset \(offset)")
                }
            }
        }
    }

    @Test func blockBoundsHoldForEveryEntryAfterRemovalsAndRebuilds() {
        var rng = SplitMix64(seed: 16)
        let (index, _) = Self.randomIndex(&rng, count: 2_000)
        for list in index.postings {
            var cursor = PostingList.Cursor(list)
            var entry = 0
            while cursor.advance() {
                let skip = list.skips[entry / PostingList.blockSize]
                #expect(cursor.frequency <= skip.maxFrequency)
                // A removed document's length is gone from `lengths`; the bound still covers live ones.
                let length = index.lengths[Int(cursor.doc)]
                if length != SearchIndex.absent { #expect(length >= skip.minLength) }
                entry += 1
            }
        }
    }
}
