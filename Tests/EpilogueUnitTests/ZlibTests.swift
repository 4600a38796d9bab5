import Foundation
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

    // MARK: Primed deflate, dictionary inflate

    private static let dictionary = Array("the ending of the film a last look a smile what was given up".utf8)

    /// The prose above with `dictionary` (base64), as zlib 1.2.13 wrote it before primed streams (Python's
    /// zlib, memLevel 9): raw deflate at level 6, and the zlib format at levels 6 and 1 (the
    /// header's level bits differ).
    private static let writtenBefore: [(raw: Bool, base64: String)] = [
        (true, "bY7tCYAwDERXyQDFaVwgaPoBtpE0Km5vWkQE/ROO4x554z+bMoZUqPZmSZ560IPvVYacQlSIuJOd2bWygJBuUozivhfmbC9JOn5CjWjx5eUeMW1iOE20av1agmd5tWhq83AB"),
        (false, "eLuHAhVXbY7tCYAwDERXyQDFaVwgaPoBtpE0Km5vWkQE/ROO4x554z+bMoZUqPZmSZ560IPvVYacQlSIuJOd2bWygJBuUozivhfmbC9JOn5CjWjx5eUeMW1iOE20av1agmd5tWhq83ABe+FCwA=="),
        (false, "eD+HAhVXbY7dCYAwDIRXyQDFaVwgaPoDtpE0Km5vWkQEfQlHLpf7xv9syhhSodq/LclTF3rw3ZAhpxAVIu5kY3bNLyCkmxRLcb8X5myVJD1+Qo1o8sXlHjBtYDhNtGr9UoJneW3R0ObhAnvhQsA="),
    ]

    @Test func dictionaryInflaterInflatesBytesWrittenBeforePrimedStreams() throws {
        let inflater = Zlib.DictionaryInflater(dictionary: Self.dictionary)
        for (raw, base64) in Self.writtenBefore {
            let packed = try #require(Data(base64Encoded: base64)).map { $0 }
            #expect(try inflater.decompress(packed, raw: raw) == Self.prose, "\(base64.prefix(8))")
            #expect(try Zlib.decompress(packed, dictionary: Self.dictionary, raw: raw) == Self.prose)
        }
    }

    @Test func primedDeflaterWritesTheSameBytesAsAFreshStream() throws {
        for raw in [true, false] {
            for level: Int32 in [1, 6, 9] {
                let deflater = try Zlib.PrimedDeflater(dictionary: Self.dictionary, level: level, raw: raw)
                for length in [0, 1, 100, 1_300, 5_000, 70_000] {
                    let input = sample(length: length)
                    #expect(try deflater.compress(input) == Zlib.compress(input, dictionary: Self.dictionary, level: level, raw: raw),
                            "raw \(raw), level \(level), length \(length)")
                }
            }
        }
    }

    @Test func oneTemplateCarriesManyRecordsUnchanged() throws {
        let deflater = try Zlib.PrimedDeflater(dictionary: Self.dictionary, level: 6, raw: true)
        let inflater = Zlib.DictionaryInflater(dictionary: Self.dictionary)
        let first = try deflater.compress(Self.prose)
        for length in 0..<500 {
            let input = sample(length: length * 7)
            #expect(try inflater.decompress(deflater.compress(input), raw: true) == input, "length \(length * 7)")
        }
        // The template is where it was: the same input still gives the same bytes.
        #expect(try deflater.compress(Self.prose) == first)
        #expect(try inflater.decompress(first, raw: true) == Self.prose)
    }

    @Test func dictionaryInflaterTakesZlibStreamsOfEveryLevelAndWithoutADictionary() throws {
        let inflater = Zlib.DictionaryInflater(dictionary: Self.dictionary)
        for level: Int32 in 0...9 {
            let packed = try Zlib.compress(Self.prose, dictionary: Self.dictionary, level: level)
            #expect(try inflater.decompress(packed, raw: false) == Self.prose, "level \(level)")
        }
        // Made without a dictionary: needs none, as with zlib's own inflate.
        #expect(try inflater.decompress(Zlib.compress(Self.prose), raw: false) == Self.prose)
    }

    @Test func dictionaryInflaterFailsAsZlibsOwnCheckDoes() throws {
        let inflater = Zlib.DictionaryInflater(dictionary: Self.dictionary)
        let packed = try Zlib.compress(sample(length: 5_000), dictionary: Self.dictionary)
        let other = try Zlib.compress(Self.prose, dictionary: Array("other".utf8))
        #expect(throws: ZlibError.dictionaryMismatch) { try inflater.decompress(other, raw: false) }
        for cut in [0, 1, 2, 5, packed.count / 2, packed.count - 3] {
            #expect(throws: ZlibError.truncatedInput, "cut at \(cut)") { try inflater.decompress(Array(packed.prefix(cut)), raw: false) }
        }
        var badTrailer = packed
        badTrailer[badTrailer.count - 1] ^= 0x01
        #expect(throws: ZlibError.streamError(code: -3, message: "incorrect data check")) { try inflater.decompress(badTrailer, raw: false) }
        #expect(throws: ZlibError.self) { try Zlib.decompress(badTrailer, dictionary: Self.dictionary) }
        #expect(throws: ZlibError.streamError(code: -3, message: "incorrect header check")) {
            try inflater.decompress([0x78, 0x00, 0x01, 0x02], raw: false)
        }
        var corrupted = try Zlib.compress(sample(length: 5_000), dictionary: Self.dictionary, raw: true)
        for index in stride(from: 0, to: corrupted.count, by: 7) { corrupted[index] ^= 0x5A }
        #expect(throws: ZlibError.self) { try inflater.decompress(corrupted, raw: true) }
        let zeros = try Zlib.compress([UInt8](repeating: 0, count: 100_000), dictionary: Self.dictionary, raw: true)
        #expect(throws: ZlibError.outputTooLarge(limit: 1_000)) { try inflater.decompress(zeros, limit: 1_000, raw: true) }
    }

    @Test func inflateAcceptsOutputOfExactlyTheLimit() throws {
        let input = sample(length: 5_000)
        #expect(try Zlib.decompress(Zlib.compress(input), limit: 5_000) == input)
        #expect(throws: ZlibError.outputTooLarge(limit: 4_999)) { try Zlib.decompress(Zlib.compress(input), limit: 4_999) }
        let inflater = Zlib.DictionaryInflater(dictionary: Self.dictionary)
        let packed = try Zlib.compress(input, dictionary: Self.dictionary, raw: true)
        #expect(try inflater.decompress(packed, limit: 5_000, raw: true) == input)
        #expect(throws: ZlibError.outputTooLarge(limit: 4_999)) { try inflater.decompress(packed, limit: 4_999, raw: true) }
    }
}
