import Testing
@testable import EpilogueStorage

@Suite struct StemCacheTests {
    @Test func givesTheStemmersAnswerForEveryWordSeenOrNot() {
        let cache = StemCache(capacity: 100)
        let words = ["dreams", "dreaming", "overdosed", "a", "of", "relational", "dreams", "東京", "caresses", "ponies"]
        // Twice: once computing, once from the cache.
        #expect(cache.stems(of: words) == words.map(PorterStemmer.stem))
        #expect(cache.stems(of: words) == words.map(PorterStemmer.stem))
    }

    @Test func holdsAtMostItsCapacityAndNoWordsStemmingLeavesAloneByLength() {
        let cache = StemCache(capacity: 8)
        _ = cache.stems(of: ["a", "of", String(repeating: "x", count: 65)])
        #expect(cache.count == 0)
        for round in 0..<5 {
            let words = (0..<5).map { "word\(round)x\($0)ing" }
            #expect(cache.stems(of: words) == words.map(PorterStemmer.stem))
            #expect(cache.count <= 8)
        }
        // More distinct words in one call than it holds: answered all the same.
        let many = (0..<20).map { "many\($0)ness" }
        #expect(cache.stems(of: many) == many.map(PorterStemmer.stem))
        #expect(cache.count <= 8)
    }
}
