import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite(.timeLimit(.minutes(2))) struct ProtocolRulesStoreTests {
    @Test func versionsStayMonotonicAcrossDeleteAndPutThroughCompactionAndRestart() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var store = try await TestSupport.openStore(dir, fsync: .never)
        _ = try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil)
        _ = try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil)
        #expect(try await store.delete(id: "aba", expectedVersion: 2) == 2)
        // A deleted record does not exist (expected version 0 matches), and its versions go on.
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: 0).version == 3)
        #expect(try await store.delete(id: "aba", expectedVersion: nil) == 3)
        _ = try await store.put(id: "other", content: TestSupport.content(), expectedVersion: nil)
        try store.compact()
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil).version == 4)
        #expect(try await store.delete(id: "aba", expectedVersion: 4) == 4)
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        try store.compact()
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: 0).version == 5)
        store.close()
    }

    /// NOT_FOUND wins over CONFLICT, INVALID_RECORD over CONFLICT.
    @Test func whichErrorWinsWhenTwoApply() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        await #expect(throws: StoreError.notFound(id: "missing")) { _ = try await store.delete(id: "missing", expectedVersion: 3) }
        var bad = TestSupport.content()
        bad.year = 1
        await #expect(throws: StoreError.invalidRecord(RecordValidationError(field: "year", reason: "must be between 1870 and 2200"))) {
            _ = try await store.put(id: "missing", content: bad, expectedVersion: 3)
        }
    }

    @Test func unknownMessageTypeIsRefusedOverTheWireAndTheConnectionServesTheNextRequest() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.channel.writeAndFlush(Frame(type: 0x55, requestID: 21, payload: ByteBuffer(bytes: [9, 9])))
                let (message, id, _) = try await client.receive()
                #expect(message.errorCode == .unknownMessage)
                #expect(id == 21)
                try await client.send(.ping(ByteBuffer(string: "on")), id: 22)
                #expect(try await client.receive().message == .pong(ByteBuffer(string: "on")))
            }
        }
    }

    /// EOF mid-frame: the requests already whole are answered, the partial frame is dropped, and
    /// the store closes without an ERROR (PROTOCOL.md §1.2).
    @Test func clientClosingMidFrameGetsItsWholeRequestsAnsweredThenABareClose() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.put(id: "eof", content: TestSupport.content(), expectedVersion: nil), id: 1)
                var partial = ByteBuffer()
                ClientMessage.get(id: "eof").frame(requestID: 2).write(to: &partial)
                partial.moveWriterIndex(to: partial.writerIndex - 2)
                let bytes = partial
                let channel = client.channel
                try await channel.eventLoop.submit {
                    let encoder = try channel.pipeline.syncOperations.context(handlerType: MessageToByteHandler<FrameEncoder>.self)
                    encoder.writeAndFlush(NIOAny(bytes), promise: nil)
                }.get()
                try await channel.close(mode: .output)
                let (message, id, _) = try await client.receive()
                guard case .written(let written, 1, _) = message else { Issue.record("expected WRITTEN, got \(message)"); return }
                #expect(written == "eof")
                #expect(id == 1)
                #expect(await client.receivesEndOfStream())
            }
        }
    }

    /// SEARCH: a text without words matches nothing (not an error); equal scores go to the
    /// record written earlier; a limit of 2^32-1 is served (taken as 1,000), not refused.
    @Test func searchWithoutWordsIsEmptyAndEqualScoresKeepWriteOrder() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        for id in ["tie/b", "tie/a", "tie/c"] {
            _ = try await store.put(id: id, content: TestSupport.content(reading: "The same words, word for word."), expectedVersion: nil)
        }
        let handler = StoreRequestHandler(store: store)
        for text in ["", "  ", "?!…", "\u{FEFF}"] {
            let frames = try handler.respondToRead(.search(text: text, RecordFilter(), limit: 10), requestID: 1, clientDictionaries: [])
            #expect(try frames.map { try ServerMessage(frame: $0) } == [.resultEnd(returned: 0, total: 0)], "text '\(text)'")
        }
        let frames = try handler.respondToRead(.search(text: "same words", RecordFilter(), limit: .max), requestID: 1, clientDictionaries: [])
        let ids = try frames.compactMap { frame -> String? in
            if case .hit(let hit) = try ServerMessage(frame: frame) { return hit.id } else { return nil }
        }
        #expect(ids == ["tie/b", "tie/a", "tie/c"])
        #expect(StoreRequestHandler.maximumSearchLimit == 1_000)
    }

    /// After training, a client that announced the trained id gets the stored raw deflate
    /// (encoding 2), fetches the dictionary with GET_DICTIONARY and inflates it; READY lists the
    /// id; all of it again after a restart.
    @Test func trainedDictionaryBodiesTravelCompressedToClientsThatAnnouncedItAndTheDictionaryCanBeFetched() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            for n in 0..<40 {
                _ = try await store.put(id: "t/\(n)", content: TestSupport.content(reading: "Reading number \(n) of the dream that ends."),
                                        expectedVersion: nil)
            }
            let trained = try #require(try store.trainDictionary(sampleBytes: 1 << 16))
            try store.compact()
            try await withWireClient(port: port) { client in
                #expect(try await client.handshake(dictionaries: [trained]) == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, trained])))
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .deflate)
                #expect(record.dictionaryID == trained)
                try await client.send(.getDictionary(id: trained), id: 2)
                guard case .dictionary(let id, let bytes) = try await client.receive().message else { Issue.record("no dictionary"); return }
                #expect(id == trained)
                let raw = try Zlib.decompress(Array(buffer: record.body), dictionary: bytes, raw: true)
                #expect(try RecordBody.content(of: raw).reading == "Reading number 7 of the dream that ends.")
                try await client.send(.getDictionary(id: 1), id: 3)
                #expect(try await client.receive().message == .dictionary(id: 1, bytes: CompressionDictionary.v1.bytes))
                try await client.send(.getDictionary(id: 999), id: 4)
                #expect(try await client.receive().message.errorCode == .notFound)
            }
            // A client that announced only the built-in dictionary still gets the body inflated.
            try await withWireClient(port: port) { client in
                try await client.handshake(dictionaries: [1])
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .plain)
            }
        }
        // And after a restart: the dictionary file is loaded, announced and sent as before.
        try await withStoreServer(directory: dir) { port, store in
            let trained = try #require(store.dictionaries.trained.last?.id)
            try await withWireClient(port: port) { client in
                #expect(try await client.handshake(dictionaries: [trained]) == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, trained])))
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .deflate)
                #expect(record.dictionaryID == trained)
            }
        }
    }
}
