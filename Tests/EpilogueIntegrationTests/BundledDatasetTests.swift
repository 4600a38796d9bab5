import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct BundledDatasetTests {
    @Test func bundledDatasetLoadsAndValidates() throws {
        let records = try BundledDataset.load()
        #expect(records.count >= 40)
        let films = Set(records.map(\.content.film))
        #expect(films == ["La La Land", "A Real Pain"])
        let kinds = Set(records.map(\.content.sourceKind))
        #expect(kinds.isSuperset(of: [.director, .cast, .article]))
    }

    /// One record of the dataset file that keeps to the vocabulary, with `changes` applied.
    private func fileRecord(_ changes: [String: Any] = [:]) -> [String: Any] {
        var record: [String: Any] = ["id": "la-la-land/x", "film": "La La Land", "year": 2016, "director": "Damien Chazelle",
                                     "subject": "final look", "reading": "r", "source": "x", "sourceKind": "article",
                                     "sourceRef": "002_367b70248f757392.txt#what-does-the-montage-mean", "themes": ["memory"]]
        record.merge(changes) { $1 }
        return record
    }

    private func parse(_ records: [[String: Any]]) throws -> [BundledDataset.Entry] {
        try BundledDataset.parse(JSONSerialization.data(withJSONObject: records))
    }

    private func rejectedField(_ changes: [String: Any]) -> String? {
        do {
            _ = try parse([fileRecord(changes)])
            return nil
        } catch BundledDataset.LoadError.invalid(_, let error) {
            return error.field
        } catch {
            return "\(error)"
        }
    }

    @Test func aRecordThatKeepsToTheVocabularyLoadsWithItsSourceRefAtTheEndOfSource() throws {
        let entries = try parse([fileRecord()])
        #expect(entries.map(\.sourceRef) == ["002_367b70248f757392.txt#what-does-the-montage-mean"])
        #expect(entries.first?.content.source == "x [002_367b70248f757392.txt#what-does-the-montage-mean]")
    }

    @Test func datasetWithADuplicateIDIsRejected() {
        #expect(throws: BundledDataset.LoadError.self) { try parse([fileRecord(), fileRecord()]) }
    }

    @Test func datasetWithAnInvalidRecordNamesIt() {
        #expect(rejectedField(["id": "bad id"]) == "id")
    }

    @Test func bundledRecordsMustKeepToTheVocabulary() {
        #expect(rejectedField(["themes": ["memory", "nostalgia"]]) == "themes")
        #expect(rejectedField(["subject": "ending"]) == "subject")
        #expect(rejectedField(["subject": "airport ending"]) == "subject")  // a subject of the other film
        #expect(rejectedField(["film": "Whiplash"]) == "film")
        #expect(rejectedField(["sourceRef": "002_367b70248f757392.txt#no-such-section"]) == "sourceRef")
        #expect(rejectedField(["sourceRef": "009_x.txt#intro"]) == "sourceRef")
        #expect(rejectedField(["id": "a-real-pain/x"]) == "id")
        #expect(rejectedField(["id": "la-la-land/Mixed-Case"]) == "id")
        #expect(rejectedField(["id": "la-la-land/chazelle-says"]) == "id")  // a speaker's prefix on an article's record
        #expect(rejectedField(["sourceKind": "director"]) == "id")  // a director's record without his prefix
        #expect(rejectedField(["sourceKind": "director", "id": "la-la-land/chazelle-says"]) == nil)
    }

    @Test func recordsUsersWriteMayUseThemesOutsideTheVocabulary() throws {
        try RecordValidator.validate(TestSupport.content(themes: ["nostalgia", "my-own-tag"]))
    }

    @Test func emptyDataDirectoryStartsWithTheBundledDataset() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, dataset: true)
        defer { store.close() }
        let expected = try BundledDataset.load()
        #expect(store.figures().records == expected.count)
        #expect(store.recovery.loadedBundledDataset == expected.count)
        let sample = try #require(expected.first)
        #expect(try store.get(id: sample.id).content == sample.content)
    }

    @Test func compressionWithTheDictionaryBeatsPlainZlibOnTheDataset() throws {
        var raw = 0, plain = 0, withDictionary = 0
        for entry in try BundledDataset.load() {
            let body = RecordBody.bytes(of: entry.content)
            raw += body.count
            plain += try Zlib.compress(body, level: 9).count
            withDictionary += try Zlib.compress(body, dictionary: CompressionDictionary.current.bytes, level: 9).count
        }
        #expect(withDictionary < plain)
        #expect(plain < raw)
    }
}
