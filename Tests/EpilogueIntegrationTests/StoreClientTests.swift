import EpilogueProtocol
import EpilogueCompression
import EpilogueModel
import EpilogueTestSupport
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore
@testable import EpilogueStoreClient

/// `StoreClient` against an in-process store: every request answers a domain value, a refusal
/// carries the store's wire code, and compressed bodies (built-in or trained dictionary) arrive
/// inflated.
@Suite(.timeLimit(.minutes(1))) struct StoreClientTests {
    @Test func requestsAnswerDomainValuesAndRefusalsCarryTheWireCode() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withStoreClient(port: port) { client in
                try await client.ping()
                let first = try await client.put(id: "a", content: TestSupport.content())
                #expect(first.version == 1)
                try await client.put(id: "b", content: TestSupport.content(film: "A Real Pain", reading: "Benji at the airport."))
                let a = try await client.get(id: "a")
                #expect(a.content == TestSupport.content() && a.version == 1 && a.updatedAt == first.updatedAt)
                let page = try await client.find(RecordFilter(film: "A Real Pain"), limit: 10)
                #expect(page.records.map(\.id) == ["b"] && page.total == 1)
                let hits = try await client.search("airport", limit: 5)
                #expect(hits.hits.map(\.id) == ["b"] && hits.total == 1 && hits.suggestions.isEmpty)
                #expect(try await client.films().map(\.film) == ["A Real Pain", "La La Land"])
                #expect(try await client.themes(film: "La La Land").map(\.theme) == ["what-if"])
                #expect(try await client.stats().contains { $0.name == "records" && $0.value == 2 })
                #expect(try await client.export().map(\.id) == ["a", "b"])
                await #expect(throws: StoreClientError.refused(code: .conflict, message: "'a' is at version 1, not 7")) {
                    try await client.put(id: "a", content: TestSupport.content(), expectedVersion: 7)
                }
                #expect(try await client.delete(id: "a") == 1)
                do throws(StoreClientError) {
                    _ = try await client.get(id: "a")
                    Issue.record("a deleted record was returned")
                } catch {
                    #expect(error.code == .notFound, "\(error)")
                }
            }
        }
    }

    /// Bodies of a trained dictionary come as raw deflate to a client that announces it; the
    /// client fetches the dictionary once (GET_DICTIONARY) and inflates them. A client learns
    /// trained ids from READY and announces them on its next connections.
    @Test func bodiesOfATrainedDictionaryArriveCompressedAndAreInflatedWithTheFetchedDictionary() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            let dataset = try BundledDataset.load()
            for record in dataset { _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil) }
            let trained = try #require(try store.trainDictionary())
            _ = try await store.put(id: "after-training", content: dataset[0].content, expectedVersion: nil)
            #expect(store.record(id: "after-training")?.dictionaryID == trained)

            let configuration = StoreClient.Configuration(host: "127.0.0.1", port: port, connections: 1)
            try await StoreClient.withClient(configuration: configuration, clientName: "test", logger: TestSupport.logger) { learner in
                #expect(await learner.waitUntilConnected(timeout: .seconds(3)))
                #expect(learner.inflater.announced.contains(trained), "READY's trained id is announced from the next connection on")
            }
            let client = StoreClient(configuration: configuration, clientName: "test", dictionaries: [trained], logger: TestSupport.logger)
            client.start()
            defer { client.shutdown() }
            #expect(await client.waitUntilConnected(timeout: .seconds(3)))
            let wire = WireRecord(id: "x", version: 1, updatedAt: 0, encoding: .deflate, dictionaryID: trained, body: ByteBuffer())
            #expect(client.inflater.missingDictionaries(in: [.record(wire)]) == [trained])
            #expect(try await client.get(id: "after-training").content == dataset[0].content)
            #expect(client.inflater.missingDictionaries(in: [.record(wire)]).isEmpty, "the dictionary was fetched and kept")
            let all = try await client.export()
            #expect(all.count == dataset.count + 1)
            #expect(Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.content) })[dataset[5].id] == dataset[5].content)
        }
    }

    /// A gateway connects before the store trains its dictionary (the usual start): having
    /// announced "any", it gets bodies of that dictionary compressed on the connection it already
    /// has, and fetches the dictionary before inflating them.
    @Test func aClientConnectedBeforeTrainingFetchesTheNewDictionaryAndInflatesItsBodies() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            let configuration = StoreClient.Configuration(host: "127.0.0.1", port: port, connections: 1)
            try await StoreClient.withClient(configuration: configuration, clientName: "test", logger: TestSupport.logger) { client in
                #expect(await client.waitUntilConnected(timeout: .seconds(3)))
                let dataset = try BundledDataset.load()
                for record in dataset { _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil) }
                let trained = try #require(try store.trainDictionary())
                _ = try await store.put(id: "after-training", content: dataset[0].content, expectedVersion: nil)
                let wire = WireRecord(id: "x", version: 1, updatedAt: 0, encoding: .deflate, dictionaryID: trained, body: ByteBuffer())
                #expect(client.inflater.missingDictionaries(in: [.record(wire)]) == [trained])
                #expect(try await client.get(id: "after-training").content == dataset[0].content)
                // Only a compressed body makes the client fetch: the store did not inflate for it.
                #expect(client.inflater.missingDictionaries(in: [.record(wire)]).isEmpty)
                let all = try await client.export()
                #expect(all.count == dataset.count + 1)
                #expect(Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.content) })["after-training"] == dataset[0].content)
            }
        }
    }
}
