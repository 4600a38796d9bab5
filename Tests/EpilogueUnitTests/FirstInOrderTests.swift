import EpilogueTestSupport
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct FirstInOrderTests {
    @Test(arguments: [0, 1, 10, 999, 5_000])
    func keepsTheSameStringsAsSortingAndTakingThePrefix(count: Int) {
        let seed = TestSeed()
        var generator = seed.generator
        let ids = (0..<3_000).map { _ in "r/\(UInt32.random(in: 0..<2_000, using: &generator))" }
        var first = FirstInOrder(count: count)
        for id in ids { first.offer(id) }
        #expect(first.smallest == Array(ids.sorted().prefix(count)), "\(seed)")
    }
}
