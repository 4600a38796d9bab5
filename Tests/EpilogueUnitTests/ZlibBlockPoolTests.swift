import EpilogueShared
import Foundation
import Testing
@testable import EpilogueCompression

@Suite struct ZlibBlockPoolTests {
    @Test func aFreedBlockIsHandedOutAgainAndAtMostBlocksPerSizeAreKept() throws {
        let pool = ZlibBlockPool(blocksPerSize: 2)
        let first = try #require(pool.allocate(1000))
        pool.release(first)
        #expect(pool.allocate(1000) == first)
        // A different size gets a block of its own.
        let other = try #require(pool.allocate(2000))
        #expect(other != first)
        let blocks = (0..<4).compactMap { _ in pool.allocate(1000) } + [first]
        for block in blocks { pool.release(block) }
        pool.release(other)
        #expect(pool.heldBlocks == 3)  // two of 1000 bytes, one of 2000
    }

    @Test func primedDeflatersOnManyThreadsAtOnceWriteTheSameBytesAsAFreshStream() throws {
        let dictionary = Array(String(repeating: "the ending imagines the life they might have had; ", count: 700).utf8.prefix(32_768))
        let deflater = try Zlib.PrimedDeflater(dictionary: dictionary, level: 6, raw: true)
        let inputs = (0..<64).map { i in Array("record \(i): \(String(repeating: "a what-if montage \(i * 7) ", count: i + 1))".utf8) }
        let expected = try inputs.map { try Zlib.compress($0, dictionary: dictionary, level: 6, raw: true) }
        let mismatches = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for (input, bytes) in zip(inputs, expected) where (try? deflater.compress(input)) != bytes {
                mismatches.withLock { $0 += 1 }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
        #expect(ZlibBlockPool.shared.heldBlocks <= 5 * ZlibBlockPool.shared.blocksPerSize)
    }
}
