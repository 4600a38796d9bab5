import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueShared
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct DictionarySetTests {
    @Test func newWritesUseTheNewestTrainedDictionaryAsRawDeflateAndOldIDsStillInflate() throws {
        let bodies = try datasetBodies()
        let set = DictionarySet()
        let body = try #require(bodies.held.first)
        let before = try set.compress(body)
        #expect(before.dictionaryID == CompressionDictionary.current.id)
        let trained = CompressionDictionary(id: DictionarySet.firstTrainedID, bytes: DictionaryTrainer().train(bodies.training))
        set.add(trained)
        let after = try set.compress(body)
        #expect(after.dictionaryID == trained.id)
        // No zlib header, dictionary id or Adler-32 trailer: 10 bytes less than the zlib format.
        #expect(after.bytes.count == (try Zlib.compress(body, dictionary: trained.bytes, level: DictionarySet.level)).count - 10)
        #expect(try set.decompress(after.bytes, dictionaryID: after.dictionaryID) == body)
        #expect(try set.decompress(before.bytes, dictionaryID: before.dictionaryID) == body)
        #expect(set.nextTrainedID == DictionarySet.firstTrainedID + 1)
        #expect(throws: ZlibError.dictionaryMismatch) { try DictionarySet().decompress(after.bytes, dictionaryID: trained.id) }
    }

    @Test func compressesWithThePrimedStreamTheBytesAFreshStreamWrites() throws {
        let bodies = try datasetBodies()
        let trained = CompressionDictionary(id: DictionarySet.firstTrainedID, bytes: DictionaryTrainer().train(bodies.training))
        for (set, dictionary) in [(DictionarySet(), CompressionDictionary.v1), (DictionarySet(trained: [trained]), trained)] {
            for body in bodies.held {
                let packed = try set.compress(body)
                #expect(packed.dictionaryID == dictionary.id)
                #expect(packed.bytes == (try Zlib.compress(body, dictionary: dictionary.bytes, level: DictionarySet.level,
                                                           raw: dictionary.id >= DictionarySet.firstTrainedID)))
            }
        }
    }

    /// Bodies with dictionary 1 as stores and gateways wrote them before primed streams: level 9
    /// (`BodyCompression`, stores until level 6) and level 6, by zlib 1.2.13 (Python's zlib, memLevel 9).
    @Test func inflatesDictionary1BodiesWrittenBeforePrimedStreams() throws {
        let prose = Array("""
        The ending of the film imagines the life the two of them might have had, then returns to the room \
        where they share a last look, a smile that accepts what was given up for what was gained.
        """.utf8)
        let written = [
            "ePluAFARC0FZF41YtQPZH4m6bRK8KBN25gvqYVXg4XGQs6BnO+ZDDw7Iz0VeHgJfvJlYDNluowNfPwHZQAFOcUibE0Gt+TzQSpQ08JQdTBTcLdIDAHvhQsA=",
            "eLtuAFARQ5pZQzlPDrI/EnXbJHhRJuzMF9TDqsDD4yBnQc92hCy4Bm3rQ14eAl+8mVgM2W6jA18/AdlAAU5xSJsTQa35PNBKlDTwlB1MFNwt0gMAe+FCwA==",
        ]
        for base64 in written {
            let bytes = try #require(Data(base64Encoded: base64)).map { $0 }
            #expect(try DictionarySet().decompress(bytes, dictionaryID: 1) == prose)
            #expect(try BodyCompression.decompress(bytes, dictionaryID: 1) == prose)
        }
    }

    @Test func threadsSharingOneSetGetWhatEachWouldAlone() throws {
        let bodies = try datasetBodies()
        let set = DictionarySet(trained: [CompressionDictionary(id: DictionarySet.firstTrainedID,
                                                                bytes: DictionaryTrainer().train(bodies.training))])
        let all = bodies.training + bodies.held
        let alone = try all.map { try set.compress($0) }
        let mismatches = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for round in 0..<20 {
                for (index, body) in all.enumerated() where (index + round + worker) % 2 == 0 {
                    let packed = try? set.compress(body)
                    let back = packed.flatMap { try? set.decompress($0.bytes, dictionaryID: $0.dictionaryID) }
                    if packed?.bytes != alone[index].bytes || back != body { mismatches.withLock { $0 += 1 } }
                    // Older bodies (dictionary 1, level 9, zlib format) inflate alongside.
                    let old = try? Zlib.compress(body, dictionary: CompressionDictionary.v1.bytes, level: 9)
                    if old.flatMap({ try? set.decompress($0, dictionaryID: CompressionDictionary.v1.id) }) != body {
                        mismatches.withLock { $0 += 1 }
                    }
                }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }
}
