import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import Foundation
import NIOCore
import Testing
@testable import EpilogueStore

/// Bodies of the bundled dataset's records: real prose, split into a training and a held-out half.
private func datasetBodies() throws -> (training: [[UInt8]], held: [[UInt8]]) {
    let bodies = try BundledDataset.load().map { Array(buffer: RecordBody.encode($0.content)) }
    let training = bodies.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
    let held = bodies.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
    return (training, held)
}

@Suite struct DictionaryTrainerTests {
    @Test func sameSamplesGiveTheSameDictionary() throws {
        let samples = try datasetBodies().training
        #expect(DictionaryTrainer().train(samples) == DictionaryTrainer().train(samples))
    }

    @Test func dictionaryFitsZlibsWindowAndTheRequestedCapacity() throws {
        let bodies = try datasetBodies()
        var many: [[UInt8]] = []
        for round in 0..<20 { many += bodies.training.map { $0 + Array("variant \(round)".utf8) } }
        #expect(DictionaryTrainer().train(many).count <= 32 * 1024)
        #expect(DictionaryTrainer(capacity: 1000, segmentLength: 100).train(many).count <= 1000)
        #expect(DictionaryTrainer().train([]).isEmpty)
    }

    @Test func trainedDictionaryCompressesUnseenRecordsBetterThanNone() throws {
        let bodies = try datasetBodies()
        let dictionary = DictionaryTrainer().train(bodies.training)
        #expect(!dictionary.isEmpty)
        var plain = 0, trained = 0
        for body in bodies.held {
            plain += try Zlib.compress(body, level: 9).count
            let packed = try Zlib.compress(body, dictionary: dictionary, level: 9)
            trained += packed.count
            #expect(try Zlib.decompress(packed, dictionary: dictionary) == body)
        }
        #expect(trained < plain)
    }

    @Test func policyTrainsFirstAtTheThresholdThenAtEachTenfoldGrowthUntilTheCap() {
        let policy = DictionaryPolicy(firstAt: 1_000, growth: 10, stopAfter: 100_000)
        #expect(!policy.isDue(liveRecords: 999, trainedOn: 0))
        #expect(policy.isDue(liveRecords: 1_000, trainedOn: 0))
        #expect(!policy.isDue(liveRecords: 9_999, trainedOn: 1_000))
        #expect(policy.isDue(liveRecords: 10_000, trainedOn: 1_000))
        #expect(!policy.isDue(liveRecords: 10_000_000, trainedOn: 100_000))
    }
}

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

@Suite struct DictionaryFileTests {
    @Test func fileRoundTripsAndLoadsByID() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let file = DictionaryFile(id: 1000, trainedOn: 1234, bytes: Array("some dictionary text".utf8))
        try file.write(to: dir)
        #expect(try DictionaryFile.loadAll(from: dir) == [file])
        #expect(!FileManager.default.fileExists(atPath: dir + "/dictionary-1000.zdict.tmp"))
    }

    @Test func leftoverTempFileOfAnInterruptedWriteIsRemovedNotLoaded() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let half = Array(DictionaryFile(id: 1000, trainedOn: 1, bytes: [1, 2, 3]).encoded().prefix(10))
        #expect(FileManager.default.createFile(atPath: dir + "/dictionary-1000.zdict.tmp", contents: Data(half)))
        #expect(try DictionaryFile.loadAll(from: dir).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/dictionary-1000.zdict.tmp"))
    }

    @Test func damagedFileIsAnErrorNamingIt() throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var bytes = DictionaryFile(id: 1000, trainedOn: 1, bytes: Array("dictionary".utf8)).encoded()
        bytes[bytes.count - 6] ^= 0x20
        #expect(FileManager.default.createFile(atPath: dir + "/dictionary-1000.zdict", contents: Data(bytes)))
        #expect(throws: StorageError.corruptDictionary(path: dir + "/dictionary-1000.zdict", reason: "checksum mismatch")) {
            try DictionaryFile.loadAll(from: dir)
        }
    }
}

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
        _ = try log.scan { entry, _ in if entry.dictionaryID >= DictionarySet.firstTrainedID { named.insert(entry.dictionaryID) } }
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

    @Test func recordsOfATrainedDictionaryTravelPlainToClientsThatOnlyKnowBuiltInOnes() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
            _ = try await store.put(id: "b", content: TestSupport.content(reading: "Another reading of the same montage."), expectedVersion: nil)
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
}
