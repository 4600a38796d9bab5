import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct PostingListTests {
    /// Increasing doc ids with small and huge gaps, frequencies around the one-byte escape.
    static func entries(count: Int) -> [(doc: UInt32, frequency: UInt32)] {
        var rng = SplitMix64(seed: 99)
        var doc: UInt32 = 0
        return (0..<count).map { i in
            doc += i % 97 == 0 ? UInt32(rng.next() % 3_000_000) + 1 : UInt32(rng.next() % 5) + 1
            let frequency: UInt32 = i % 31 == 0 ? 250 + UInt32(rng.next() % 10_000) : UInt32(rng.next() % 4) + 1
            return (doc, frequency)
        }
    }

    @Test func entriesComeBackAsAppended() {
        let expected = Self.entries(count: 1_000)
        var list = PostingList()
        for entry in expected { list.append(entry.doc, frequency: entry.frequency) }
        var cursor = PostingList.Cursor(list)
        var decoded: [(UInt32, UInt32)] = []
        while cursor.advance() { decoded.append((cursor.doc, cursor.frequency)) }
        #expect(decoded.map(\.0) == expected.map(\.doc))
        #expect(decoded.map(\.1) == expected.map(\.frequency))
        #expect(list.count == 1_000 && list.live == 1_000)
        #expect(list.bytes.count < 1_000 * 4, "packed entries should average well under 4 bytes")
    }

    @Test func seekFindsTheFirstDocAtOrAfterTheTarget() {
        let expected = Self.entries(count: 2_000)
        var list = PostingList()
        for entry in expected { list.append(entry.doc, frequency: entry.frequency) }
        var rng = SplitMix64(seed: 5)
        var targets = (0..<300).map { _ in UInt32(rng.next() % UInt64(expected.last!.doc + 10)) }
        targets.sort()
        var cursor = PostingList.Cursor(list)
        for target in targets {
            let reference = expected.first { $0.doc >= target }
            let found = cursor.seek(target)
            #expect(found == (reference != nil))
            if let reference, found {
                #expect(cursor.doc == reference.doc && cursor.frequency == reference.frequency)
            }
        }
    }

    @Test func keepingDropsRejectedEntriesOnly() {
        var list = PostingList()
        for doc in UInt32(1)...500 { list.append(doc, frequency: doc % 300) }
        let kept = list.keeping { $0 % 3 == 0 }
        var cursor = PostingList.Cursor(kept)
        var docs: [UInt32] = []
        while cursor.advance() {
            docs.append(cursor.doc)
            #expect(cursor.frequency == cursor.doc % 300)
        }
        #expect(docs == Array(stride(from: UInt32(3), through: 500, by: 3)))
        #expect(kept.live == docs.count)
    }
}
