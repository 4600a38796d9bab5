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

    /// `frequency` ascending positions spread over the columns (most in the reading), with gaps
    /// from 1 to past one byte's worth.
    static func positions(_ frequency: UInt32, seed: UInt64) -> [UInt32] {
        var rng = SplitMix64(seed: seed)
        var keys: [UInt32] = []
        var column = Int(rng.next() % 4), offset = Int(rng.next() % 200)
        for _ in 0..<frequency {
            keys.append(PostingList.position(column: column, offset: offset))
            if column < 3 && rng.next() % 7 == 0 {
                column += 1 + Int(rng.next() % UInt64(3 - column))
                offset = Int(rng.next() % 100)
            } else {
                offset += 1 + Int(rng.next() % (rng.next() % 5 == 0 ? 300 : 20))
            }
        }
        return keys
    }

    static func append(_ entries: [(doc: UInt32, frequency: UInt32)], to list: inout PostingList) {
        for entry in entries { list.append(entry.doc, positions: positions(entry.frequency, seed: UInt64(entry.doc)), length: length(of: entry.doc)) }
    }

    /// A document's token count in these tests.
    static func length(of doc: UInt32) -> UInt32 { doc % 1_000 + 1
    }

    @Test func entriesComeBackAsAppended() {
        let expected = Self.entries(count: 1_000)
        var list = PostingList()
        Self.append(expected, to: &list)
        var cursor = PostingList.Cursor(list)
        var decoded: [(UInt32, UInt32)] = []
        while cursor.advance() { decoded.append((cursor.doc, cursor.frequency)) }
        #expect(decoded.map(\.0) == expected.map(\.doc))
        #expect(decoded.map(\.1) == expected.map(\.frequency))
        #expect(list.count == 1_000 && list.live == 1_000)
        #expect(list.bytes.count < 1_000 * 4, "packed entries should average well under 4 bytes")
    }

    @Test func positionsComeBackAsAppendedAcrossColumnsAndAfterSeeks() {
        let expected = Self.entries(count: 2_000)
        var list = PostingList()
        Self.append(expected, to: &list)
        var cursor = PostingList.Cursor(list, readingPositions: true)
        var keys: [UInt32] = []
        // Every third entry read, the others stepped over; then seeks that jump whole blocks.
        for (i, entry) in expected.enumerated() {
            #expect(cursor.advance() && cursor.doc == entry.doc)
            guard i % 3 == 0 else { continue }
            keys.removeAll()
            cursor.appendPositions(to: &keys)
            #expect(keys == Self.positions(entry.frequency, seed: UInt64(entry.doc)))
        }
        var seeking = PostingList.Cursor(list, readingPositions: true)
        for entry in expected.enumerated().filter({ $0.offset % 150 == 149 }).map(\.element) {
            #expect(seeking.seek(entry.doc) && seeking.doc == entry.doc)
            keys.removeAll()
            seeking.appendPositions(to: &keys)
            #expect(keys == Self.positions(entry.frequency, seed: UInt64(entry.doc)))
        }
        let total = expected.reduce(0) { $0 + Int($1.frequency) }
        #expect(list.positions.count < total * 2, "positions should average under two bytes")
    }

    @Test func seekFindsTheFirstDocAtOrAfterTheTarget() {
        let expected = Self.entries(count: 2_000)
        var list = PostingList()
        Self.append(expected, to: &list)
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
        for doc in UInt32(1)...500 { list.append(doc, positions: Self.positions(doc % 300 + 1, seed: UInt64(doc)), length: Self.length(of: doc)) }
        let kept = list.keeping { $0 % 3 == 0 ? Self.length(of: $0) : nil }
        var cursor = PostingList.Cursor(kept, readingPositions: true)
        var docs: [UInt32] = []
        while cursor.advance() {
            docs.append(cursor.doc)
            #expect(cursor.frequency == cursor.doc % 300 + 1)
            var keys: [UInt32] = []
            cursor.appendPositions(to: &keys)
            #expect(keys == Self.positions(cursor.doc % 300 + 1, seed: UInt64(cursor.doc)))
        }
        #expect(docs == Array(stride(from: UInt32(3), through: 500, by: 3)))
        #expect(kept.live == docs.count)
    }

    @Test func skipEntriesKeepTheirBlocksHighestFrequencyAndShortestDocumentAlsoAfterKeeping() {
        let expected = Self.entries(count: 1_000)
        var list = PostingList()
        Self.append(expected, to: &list)
        func check(_ list: PostingList, _ entries: [(doc: UInt32, frequency: UInt32)]) {
            #expect(list.skips.count == (entries.count + PostingList.blockSize - 1) / PostingList.blockSize)
            for (block, skip) in list.skips.enumerated() {
                let inBlock = entries[block * PostingList.blockSize..<min(entries.count, (block + 1) * PostingList.blockSize)]
                #expect(skip.maxFrequency == inBlock.map(\.frequency).max())
                #expect(skip.minLength == inBlock.map { Self.length(of: $0.doc) }.min())
            }
        }
        check(list, expected)
        check(list.keeping { $0 % 4 == 0 ? Self.length(of: $0) : nil }, expected.filter { $0.doc % 4 == 0 })
    }
}
