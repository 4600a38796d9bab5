import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite(.timeLimit(.minutes(3))) struct TrainedDictionaryStoreTests {
    private func open(_ dir: String) async throws -> RecordStore {
        try await RecordStore(configuration: .init(dataDirectory: dir, fsync: .always, loadBundledDataset: false,
                                                   dictionaryTraining: nil), logger: TestSupport.logger)
    }

    /// Puts the dataset's records, half before and half after training a dictionary on the first half.
    private func populate(_ store: RecordStore) async throws -> [String: RecordContent] {
        let dataset = try BundledDataset.load()
        var expected: [String: RecordContent] = [:]
        for (index, record) in dataset.enumerated() {
            if index == dataset.count / 2 { #expect(try store.trainDictionary() == DictionarySet.firstTrainedID) }
            _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil)
            expected[record.id] = record.content
        }
        return expected
    }

    @Test func recordsWrittenBeforeAndAfterTrainingReadBackAfterCompactionAndRestart() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var store = try await open(dir)
        let expected = try await populate(store)
        #expect(Set(expected.keys.compactMap { store.record(id: $0)?.dictionaryID }) == [1, DictionarySet.firstTrainedID])
        #expect(store.figures().dictionaryID == DictionarySet.firstTrainedID)
        for (id, content) in expected { #expect(try store.get(id: id).content == content) }

        // Compaction moves every body to the newest dictionary.
        try store.compact()
        #expect(Set(expected.keys.compactMap { store.record(id: $0)?.dictionaryID }) == [DictionarySet.firstTrainedID])
        for (id, content) in expected { #expect(try store.get(id: id).content == content) }
        let figures = store.figures()
        #expect(figures.liveLogBytes == figures.logBytes)
        store.close()

        store = try await open(dir)
        defer { store.close() }
        #expect(store.figures().dictionaryID == DictionarySet.firstTrainedID)
        #expect(store.figures().dictionaryBytes > 0)
        for (id, content) in expected { #expect(try store.get(id: id).content == content) }
        #expect(try store.search("Mia", filter: RecordFilter(), limit: 3).results.allSatisfy { !$0.snippet.isEmpty })
    }

    @Test func aDictionaryIsOnDiskBeforeAnyEntryNamesIt() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await open(dir)
        defer { store.close() }
        _ = try await populate(store)
        // What a crash right now would find: every dictionary the log names has its file.
        let onDisk = Set(try DictionaryFile.loadAll(from: dir).map(\.id))
        var named: Set<UInt32> = []
        let log = try RecordLog(directory: dir)
        _ = try log.scan { entry, _, _ in if entry.dictionaryID >= DictionarySet.firstTrainedID { named.insert(entry.dictionaryID) } }
        #expect(!named.isEmpty)
        #expect(named.isSubset(of: onDisk))
    }

    /// A closed store in `dir` whose records use a trained dictionary; returns that dictionary's file.
    private func closedStoreWithTrainedDictionary(_ dir: String) async throws -> String {
        let store = try await open(dir)
        _ = try await populate(store)
        store.close()
        return dir + "/" + DictionaryFile.fileName(id: DictionarySet.firstTrainedID)
    }

    @Test func missingDictionaryThatRecordsUseStopsStartUpWithAClearError() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let path = try await closedStoreWithTrainedDictionary(dir)
        try FileManager.default.removeItem(atPath: path)
        await #expect(throws: StorageError.self) { _ = try await open(dir) }
        do { _ = try await open(dir) } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("missing"))
        }
    }

    @Test func corruptDictionaryFileStopsStartUp() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let path = try await closedStoreWithTrainedDictionary(dir)
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        await #expect(throws: StorageError.corruptDictionary(path: path, reason: "checksum mismatch")) { _ = try await open(dir) }
    }

    private func putTwoRecordsToTrainOn(_ store: RecordStore) async throws {
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        _ = try await store.put(id: "b", content: TestSupport.content(reading: "Another reading of the same montage."), expectedVersion: nil)
    }

    @Test func recordsOfATrainedDictionaryTravelPlainToClientsThatOnlyKnowBuiltInOnes() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            try await putTwoRecordsToTrainOn(store)
            #expect(try store.trainDictionary() == DictionarySet.firstTrainedID)
            _ = try await store.put(id: "c", content: TestSupport.content(), expectedVersion: nil)
            #expect(store.record(id: "c")?.dictionaryID == DictionarySet.firstTrainedID)
            try await withWireClient(port: port) { client in
                try await client.handshake(dictionaries: CompressionDictionary.all.map(\.id))
                try await client.send(.get(id: "c"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .plain)
                #expect(try RecordBody.decode(record.body) == TestSupport.content())
            }
        }
    }

    /// "Any" in HELLO (PROTOCOL.md §2.4): a dictionary trained after the handshake is used on that
    /// connection at once, its bodies sent as stored, and GET_DICTIONARY hands out its bytes.
    @Test func aClientThatAnnouncedAnyDictionaryGetsBodiesOfOneTrainedAfterItsHandshakeAsStored() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            try await putTwoRecordsToTrainOn(store)
            try await withWireClient(port: port) { client in
                try await client.handshake(dictionaries: [1, Hello.anyDictionary])
                let trained = try #require(try store.trainDictionary())
                #expect(trained >= DictionarySet.firstTrainedID)
                _ = try await store.put(id: "c", content: TestSupport.content(), expectedVersion: nil)
                try await client.send(.get(id: "c"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .deflate && record.dictionaryID == trained)
                try await client.send(.getDictionary(id: trained), id: 2)
                guard case .dictionary(let id, let bytes) = try await client.receive().message else { Issue.record("no dictionary"); return }
                #expect(id == trained)
                let body = try Zlib.DictionaryInflater(dictionary: bytes).decompress(Array(buffer: record.body), raw: true)
                #expect(try RecordBody.decode(ByteBuffer(bytes: body)) == TestSupport.content())
            }
        }
    }
}
