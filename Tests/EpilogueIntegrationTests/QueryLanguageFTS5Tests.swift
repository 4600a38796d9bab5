import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// The query language ranks as SQLite FTS5 does (python3's sqlite3 as the oracle), for phrases,
/// prefixes, OR, NOT and column filters, on real prose and a generated corpus with replacements
/// and deletes; the match count is FTS5's count(*) too.
@Suite struct QueryLanguageFTS5Tests {
    static let queries = [
        "\"jazz club\"", "\"the dream\"", "dre*", "lo*", "\"city of\"*", "dream OR ghost", "dream NOT love",
        "(dream OR ghost) NOT the", "reading:dream", "film:love", "subject:(dream OR love)", "reading:\"jazz club\"",
        "dream AND love", "love NOT (dream OR ghost)", "(dream OR ghost) AND (love OR hope)", "\"the a\" OR jazz", "pa* NOT paris",
        "café OR naive", "dream dream", "\"dream dream\"", "dream OR dream", "mia sebastian", "\"the ending\"", "end*",
        "film:(land OR pain)", "source:critic NOT reading:dream", "(ghost OR silence) NOT (music OR stars)", "a* b*",
        "\"la la land\"", "reading:mia OR subject:airport", "benji NOT (airport OR david)", "ending*", "dreams*", "\"the endings\"", "overdosed OR distorts",
    ]

    struct Answer: Decodable {
        var ranking: [[[Double]]]
        var totals: [Int]
    }

    static func fts5(_ docs: [(UInt32, [String])], queries: [String]) throws -> Answer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-fts5-query-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.json")
        try JSONSerialization.data(withJSONObject: ["docs": docs.map { [Int($0.0)] + $0.1.map { $0 as Any } }, "queries": queries] as [String: Any]).write(to: input)
        let script = """
        import json, sqlite3, sys
        data = json.load(open(sys.argv[1]))
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(film, subject, reading, source, tokenize='porter unicode61 remove_diacritics 1')")
        db.executemany("INSERT INTO t(rowid, film, subject, reading, source) VALUES (?,?,?,?,?)", [tuple(d) for d in data["docs"]])
        ranking, totals = [], []
        for q in data["queries"]:
            ranking.append(db.execute("SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid LIMIT 10", (q,)).fetchall())
            totals.append(db.execute("SELECT count(*) FROM t WHERE t MATCH ?", (q,)).fetchone()[0])
        print(json.dumps({"ranking": ranking, "totals": totals}))
        """
        let output = try FTS5AgreementTests.runReference(script, input: input.path)
        return try JSONDecoder().decode(Answer.self, from: output)
    }

    static func compare(_ index: SearchIndex, _ docs: [(UInt32, [String])]) throws {
        let reference = try fts5(docs, queries: queries)
        var compared = 0
        for (i, query) in queries.enumerated() {
            let page = index.search(try SearchQuery(parsing: query), limit: 10, offset: 0)
            let expected = reference.ranking[i]
            #expect(page.total == reference.totals[i], "total differs for '\(query)'")
            #expect(page.hits.map(\.docID) == expected.map { UInt32($0[0]) }, "order differs for '\(query)'")
            for (hit, row) in zip(page.hits, expected) {
                #expect(abs(hit.score - row[1]) <= 1e-9 * max(1, abs(row[1])), "score differs for '\(query)': \(hit.score) vs \(row[1])")
            }
            compared += expected.count
        }
        #expect(compared > 150)
    }

    @Test func queriesRankAsFTS5OnRealProse() throws {
        let docs = try TokenizerFTS5OracleTests.documents().enumerated().map { (UInt32($0.offset + 1), $0.element) }
        var index = SearchIndex()
        for (id, fields) in docs { index.upsert(docID: id, fields: fields) }
        try Self.compare(index, docs)
    }

    @Test func queriesRankAsFTS5AfterReplacementsAndDeletes() throws {
        let corpus = FTS5AgreementTests.corpus(count: 1_500)
        var index = SearchIndex()
        for doc in corpus { index.upsert(docID: doc.id, fields: doc.fields) }
        var nextID = UInt32(corpus.count + 1)
        var survivors: [(UInt32, [String])] = []
        for doc in corpus {
            if doc.id % 11 == 0 {
                index.remove(docID: doc.id, fields: doc.fields)
            } else if doc.id % 7 == 0 {
                index.remove(docID: doc.id, fields: doc.fields)
                index.upsert(docID: nextID, fields: doc.fields.reversed())
                survivors.append((nextID, doc.fields.reversed()))
                nextID += 1
            } else {
                survivors.append((doc.id, doc.fields))
            }
        }
        try Self.compare(index, survivors.sorted { $0.0 < $1.0 })
    }
}
