import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct SearchIndexTests {
    private func index(_ docs: [[String]]) -> SearchIndex {
        var index = SearchIndex()
        for (i, fields) in docs.enumerated() { index.upsert(docID: UInt32(i + 1), fields: fields) }
        return index
    }

    @Test func everyQueryWordMustOccur() {
        let idx = index([["", "", "dream and love", ""], ["", "", "dream alone", ""], ["", "", "love alone", ""]])
        #expect(idx.search("dream love", limit: 10).map(\.docID) == [1])
        #expect(idx.search("dream", limit: 10).count == 2)
        #expect(idx.search("nowhere", limit: 10).isEmpty)
        #expect(idx.search("  ,,, ", limit: 10).isEmpty)
    }

    @Test func replacingAndRemovingUpdateResultsAndStatistics() {
        var idx = index([["", "", "dream", ""], ["", "", "dream", ""]])
        idx.remove(docID: 1, fields: ["", "", "dream", ""])
        #expect(idx.search("dream", limit: 10).map(\.docID) == [2])
        idx.upsert(docID: 3, fields: ["", "", "nightmare", ""])
        idx.remove(docID: 2, fields: ["", "", "dream", ""])
        #expect(idx.search("dream", limit: 10).isEmpty)
        #expect(idx.documentCount == 1)
    }

    @Test func filterIsAppliedBeforeTheLimit() {
        let idx = index((0..<20).map { _ in ["", "", "dream", ""] })
        let hits = idx.search("dream", limit: 3, where: { $0 % 5 == 0 })
        #expect(hits.map(\.docID) == [5, 10, 15])
    }

    @Test func totalCountsEveryMatchTheFilterAcceptsAndPagesTileTheRanking() {
        // Documents 1…30, "dream" repeated 1…3 times so scores differ and tie in places.
        let idx = index((0..<30).map { i in ["", "", String(repeating: "dream ", count: i % 3 + 1) + "filler", ""] }
                        + [["", "", "no match here", ""]])
        let all = idx.search("dream", limit: 100, offset: 0)
        #expect(all.total == 30 && all.hits.count == 30)
        let paged = stride(from: 0, to: 35, by: 7).flatMap { idx.search("dream", limit: 7, offset: $0).hits }
        #expect(paged == all.hits)
        #expect(idx.search("dream", limit: 1, offset: 0).total == 30)
        let past = idx.search("dream", limit: 5, offset: 40)
        #expect(past.hits.isEmpty && past.total == 30)
        #expect(idx.search("dream", limit: 2, offset: 0, where: { $0 % 2 == 0 }).total == 15)
    }

    @Test func wordsFindTheirOtherEnglishFormsThroughStems() {
        let idx = index([["", "", "Benji overdosed on sleeping pills", ""], ["", "", "success that distorts a romance", ""],
                         ["", "", "their dreams", ""], ["", "", "a dream", ""]])
        #expect(idx.search("overdose", limit: 10).map(\.docID) == [1])
        #expect(idx.search("distort", limit: 10).map(\.docID) == [2])
        #expect(Set(idx.search("dreaming", limit: 10).map(\.docID)) == [3, 4])
        #expect(SearchIndex.snippet(fields: ["", "", "Benji overdosed on sleeping pills", ""], query: "overdose") == "Benji [overdosed] on sleeping pills")
    }

    @Test func suggesterFindsTermsWithinTheAllowedTyposMostCommonFirst() {
        var idx = index([["", "", "chazelle directed the dream", ""], ["", "", "dream dream", ""], ["", "", "dreary cream", ""]])
        func suggest(_ word: String) -> [String] { idx.suggester.suggestions(for: PorterStemmer.stem(word), in: idx).map(\.term) }
        #expect(suggest("chazzelle") == [PorterStemmer.stem("chazelle")])
        #expect(suggest("draem").isEmpty, "a transposition is two edits; five letters allow one")
        #expect(suggest("dreem") == ["dream"])
        #expect(suggest("dre").isEmpty, "no typos below four letters")
        // A term added after the sorted copy was built shows up once the vocabulary has grown enough.
        for i in 0..<100 { idx.upsert(docID: UInt32(10 + i), fields: ["", "", "filler\(i) quokka", ""]) }
        #expect(suggest("quokkka") == ["quokka"])
    }

    @Test func prefixFindsTermsAddedAfterTheSortedVocabularyWasBuilt() throws {
        var idx = index([["", "", "dream dreary", ""]])
        #expect(idx.search(try SearchQuery(parsing: "drea*"), limit: 10, offset: 0).total == 1)
        // Too few new terms to re-sort the vocabulary: the prefix still sees them.
        idx.upsert(docID: 2, fields: ["", "", "dreadful", ""])
        idx.upsert(docID: 3, fields: ["", "", "drab", ""])
        #expect(idx.search(try SearchQuery(parsing: "drea*"), limit: 10, offset: 0).hits.map(\.docID).sorted() == [1, 2])
        #expect(idx.search(try SearchQuery(parsing: "dr*"), limit: 10, offset: 0).total == 3)
    }

    @Test func phrasesMatchAdjacentWordsWithinOneColumnOnly() throws {
        let idx = index([["la la", "land", "", ""], ["", "", "in la la land tonight", ""], ["", "", "land la la", ""]])
        func docs(_ query: String) throws -> [UInt32] {
            try idx.search(SearchQuery(parsing: query), limit: 10, offset: 0).hits.map(\.docID).sorted()
        }
        #expect(try docs("\"la land\"") == [2], "a phrase does not run from the film into the subject")
        #expect(try docs("\"la la\"") == [1, 2, 3])
        #expect(try docs("film:\"la la\"") == [1])
        #expect(try docs("subject:land") == [1])
        #expect(try docs("\"land la\"*") == [3])
    }

    @Test func shorterDocumentRanksHigherForTheSameTermCount() {
        let idx = index([["", "", "dream " + String(repeating: "filler ", count: 30), ""], ["", "", "dream", ""], ["", "", "other words", ""]])
        #expect(idx.search("dream", limit: 10).map(\.docID) == [2, 1])
    }

    @Test func snippetMarksMatchesAndPrefersTheReading() {
        let fields = ["La La Land", "epilogue", "The montage imagines the life Mia and Sebastian could have had, a dream of what might have been, before the final look.", "Critic"]
        let snippet = SearchIndex.snippet(fields: fields, query: "dream land")
        #expect(snippet.contains("[dream]"))
        #expect(snippet.hasPrefix("…"))
        #expect(snippet.hasSuffix("…"))
        #expect(SearchIndex.snippet(fields: fields, query: "land") == "La La [Land]")
        #expect(SearchIndex.snippet(fields: fields, query: "absent") == "")
    }
}
