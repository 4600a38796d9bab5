import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
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
}
