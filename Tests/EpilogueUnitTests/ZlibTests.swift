import Testing
import EpilogueCompression
import EpilogueTestSupport

@Suite struct ZlibTests {
    private static let prose = Array("""
    The ending of the film imagines the life the two of them might have had, then returns to the \
    room where they share a last look, a smile that accepts what was given up for what was gained.
    """.utf8)

    private func sample(length: Int) -> [UInt8] {
        // Prose-like but varied, so both compressible and incompressible stretches occur.
        var generator = SplitMix64(seed: UInt64(length))
        return (0..<length).map { i in
            i % 97 < 60 ? Self.prose[i % Self.prose.count] : UInt8(truncatingIfNeeded: generator.next())
        }
    }

    @Test func roundTripsEveryLengthInASampledSweepUpTo70000() throws {
        var lengths = Array(0...300)
        lengths += stride(from: 301, through: 70_000, by: 997).map { $0 }
        lengths += [16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 70_000]
        for length in lengths {
            let input = sample(length: length)
            let packed = try Zlib.compress(input)
            #expect(try Zlib.decompress(packed) == input, "length \(length)")
        }
    }

    @Test func roundTripsWithAPresetDictionary() throws {
        let dictionary = Array("the ending of the film a last look a smile what was given up".utf8)
        let input = Self.prose
        let withDictionary = try Zlib.compress(input, dictionary: dictionary)
        let without = try Zlib.compress(input)
        #expect(withDictionary.count < without.count)
        #expect(try Zlib.decompress(withDictionary, dictionary: dictionary) == input)
    }

    @Test func inflatingWithoutTheDictionaryFailsWithAnError() throws {
        let packed = try Zlib.compress(Self.prose, dictionary: Array("the ending".utf8))
        #expect(throws: ZlibError.dictionaryMismatch) { try Zlib.decompress(packed) }
        #expect(throws: ZlibError.dictionaryMismatch) { try Zlib.decompress(packed, dictionary: Array("other".utf8)) }
    }

    @Test func corruptedInputFailsWithAnErrorNotACrash() throws {
        var packed = try Zlib.compress(sample(length: 5_000))
        for index in stride(from: 2, to: packed.count, by: 7) { packed[index] ^= 0x5A }
        #expect(throws: ZlibError.self) { try Zlib.decompress(packed) }
    }

    @Test func truncatedInputFailsWithAnError() throws {
        let packed = try Zlib.compress(sample(length: 5_000))
        #expect(throws: ZlibError.truncatedInput) { try Zlib.decompress(Array(packed.prefix(packed.count / 2))) }
    }

    @Test func garbageInputFailsWithAnError() {
        #expect(throws: ZlibError.self) { try Zlib.decompress([0x00, 0x01, 0x02, 0x03]) }
        #expect(throws: ZlibError.self) { try Zlib.decompress([]) }
    }

    @Test func inflateRespectsTheOutputLimit() throws {
        let packed = try Zlib.compress([UInt8](repeating: 0, count: 100_000))
        #expect(throws: ZlibError.outputTooLarge(limit: 1_000)) { try Zlib.decompress(packed, limit: 1_000) }
    }

    @Test func checksumsMatchKnownValues() {
        // Standard check values for "123456789".
        let check = Array("123456789".utf8)
        #expect(Zlib.crc32(check) == 0xCBF4_3926)
        #expect(Zlib.adler32(check) == 0x091E_01DE)
    }
}
