import EpilogueCompression
import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import NIOCore
import Testing
@testable import EpilogueStoreClient

/// `RecordInflater` and the typed decoding of answers, on hand-made frames.
@Suite struct RecordInflaterTests {
    private let content = TestSupport.content(reading: "The montage is the what-if of their lives.")

    private func wire(_ encoding: BodyEncoding, dictionaryID: UInt32, _ bytes: [UInt8]) -> WireRecord {
        WireRecord(id: "r", version: 3, updatedAt: 42, encoding: encoding, dictionaryID: dictionaryID, body: ByteBuffer(bytes: bytes))
    }

    @Test func plainZlibAndRawDeflateBodiesDecodeToTheSameRecord() throws {
        let body = Array(buffer: RecordBody.encode(content))
        let trained = CompressionDictionary(id: 1000, bytes: Array("what-if montage lives reading critic".utf8))
        let inflater = RecordInflater()
        inflater.add(dictionaryID: trained.id, bytes: trained.bytes)
        let expected = Record(id: "r", content: content, version: 3, updatedAt: 42)
        #expect(try inflater.record(from: wire(.plain, dictionaryID: 0, body)) == expected)
        #expect(try inflater.record(from: wire(.zlib, dictionaryID: 0, try Zlib.compress(body))) == expected)
        let builtIn = try Zlib.compress(body, dictionary: CompressionDictionary.v1.bytes)
        #expect(try inflater.record(from: wire(.zlib, dictionaryID: CompressionDictionary.v1.id, builtIn)) == expected)
        let raw = try Zlib.compress(body, dictionary: trained.bytes, raw: true)
        #expect(try inflater.record(from: wire(.deflate, dictionaryID: 1000, raw)) == expected)
    }

    @Test func aBodyWhoseDictionaryIsUnknownOrThatIsDamagedIsAProtocolErrorNamingTheRecord() throws {
        let body = Array(buffer: RecordBody.encode(content))
        let inflater = RecordInflater()
        let raw = try Zlib.compress(body, dictionary: Array("some dictionary".utf8), raw: true)
        #expect(inflater.missingDictionaries(in: [.record(wire(.deflate, dictionaryID: 1001, raw)), .resultEnd(returned: 1, total: 1)]) == [1001])
        #expect(throws: StoreClientError.protocolError("record 'r' needs dictionary 1001, which this client does not have")) {
            try inflater.record(from: wire(.deflate, dictionaryID: 1001, raw))
        }
        #expect(throws: StoreClientError.self) { try inflater.record(from: wire(.zlib, dictionaryID: 0, [1, 2, 3])) }
    }

    @Test func answersOfTheWrongShapeAreProtocolErrorsNotCrashes() throws {
        let inflater = RecordInflater()
        #expect(throws: StoreClientError.self) { try StoreRequest<Record>.get(id: "a").decode([.pong(ByteBuffer())], inflater) }
        #expect(throws: StoreClientError.self) { try StoreRequest<Record>.get(id: "a").decode([], inflater) }
        #expect(throws: StoreClientError.self) { try StoreRequest<RecordPage>.find(RecordFilter(), limit: 1).decode([.hit(SearchHit(id: "a", score: 0, film: "f", subject: "s", snippet: ""))], inflater) }
        let page = try StoreRequest<SearchResultPage>.search("dream", limit: 3).decode([.resultEnd(returned: 0, total: 0, suggestions: ["dream"])], inflater)
        #expect(page == SearchResultPage(hits: [], total: 0, suggestions: ["dream"]))
    }
}
