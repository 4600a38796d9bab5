import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// Ranking must equal SQLite FTS5's `bm25()` on the same documents and queries.
@Suite struct FTS5AgreementTests {
    struct Doc: Codable {
        var id: UInt32
        var fields: [String]
    }

    static let vocabulary: [String] = {
        let words = """
        dream love sacrifice ending montage jazz club paris audition city stars light night song piano dance \
        grief cousin brother poland tour holocaust memory family trauma identity pain airport history train \
        smile look glance regret choice career ambition romance nostalgia fantasy reality future past hope \
        loss connection humor anxiety depression kindness stranger journey return home ghost silence music \
        film scene director actor critic article audience reading meaning question answer theme story final \
        the a of and to in that it is was for on with as his her they their be at by this had not but from \
        café naïve élan rôle über señor façade déjà vu
        """
        return words.split(separator: " ").map(String.init)
    }()

    static func corpus(count: Int) -> [Doc] {
        var rng = SplitMix64(seed: 2_016)
        func word() -> String {
            // Zipf-like: low indices far more often, so document frequencies vary widely.
            let u = Double(rng.next() % 1_000_000) / 1_000_000
            let index = Int(pow(u, 2.2) * Double(vocabulary.count))
            return vocabulary[min(index, vocabulary.count - 1)]
        }
        func text(_ words: ClosedRange<Int>) -> String {
            let n = Int(rng.next() % UInt64(words.count)) + words.lowerBound
            return (0..<n).map { _ in word() }.joined(separator: rng.next() % 7 == 0 ? ", " : " ")
        }
        return (1...count).map { Doc(id: UInt32($0), fields: [text(1...3), text(1...4), text(5...120), text(2...8)]) }
    }

    static let queries: [String] = [
        "dream", "love", "the", "jazz club", "dream love", "sacrifice ending", "paris", "grief cousin", "poland tour",
        "holocaust memory", "smile", "final look", "a of", "regret choice career", "nostalgia", "fantasy reality",
        "ghost", "silence music", "kindness stranger", "cafe", "naive role", "deja vu", "facade", "uber senor",
        "dream dream", "love love love", "airport", "train history", "brother", "identity pain", "zzzznotaword",
        "film scene director", "audience reading", "song piano dance",
    ]

    /// (rowid, bm25) lists from python3's sqlite3 FTS5 for each query.
    static func fts5Reference(_ docs: [Doc], limit: Int) throws -> [[(UInt32, Double)]] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-fts5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.json")
        let payload: [String: Any] = ["docs": docs.map { ["id": $0.id, "fields": $0.fields] }, "queries": queries, "limit": limit]
        try JSONSerialization.data(withJSONObject: payload).write(to: input)
        let script = """
        import json, sqlite3, sys
        data = json.load(open(sys.argv[1]))
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(film, subject, reading, source, tokenize='porter unicode61 remove_diacritics 1')")
        db.executemany("INSERT INTO t(rowid, film, subject, reading, source) VALUES (?,?,?,?,?)",
                       [(d["id"], *d["fields"]) for d in data["docs"]])
        out = []
        for q in data["queries"]:
            # Each word as an FTS5 string, so no word is read as an operator.
            match = " ".join('"' + w.replace('"', '""') + '"' for w in q.split())
            rows = db.execute("SELECT rowid, bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t), rowid LIMIT ?", (match, data["limit"])).fetchall()
            out.append(rows)
        print(json.dumps(out))
        """
        let output = try FTS5AgreementTests.runReference(script, input: input.path)
        let rows = try JSONSerialization.jsonObject(with: output) as! [[[Any]]]
        return rows.map { $0.map { (UInt32(($0[0] as! NSNumber).intValue), ($0[1] as! NSNumber).doubleValue) } }
    }

    /// Runs a python3 script (sqlite3 with FTS5, the reference every FTS5-equality test compares
    /// with) on the JSON file at `input` and returns what it printed.
    static func runReference(_ script: String, input: String) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, input]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ReferenceUnavailable(reason: "python3 with sqlite3/FTS5 failed (exit \(process.terminationStatus)); the FTS5 reference is required")
        }
        return output
    }

    struct ReferenceUnavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    @Test func rankingEqualsFTS5OnAGeneratedCorpus() throws {
        let docs = Self.corpus(count: 2_500)
        var index = SearchIndex()
        for doc in docs { index.upsert(docID: doc.id, fields: doc.fields) }
        let reference = try Self.fts5Reference(docs, limit: 10)
        var compared = 0
        for (query, expected) in zip(Self.queries, reference) {
            let actual = index.search(query, limit: 10)
            #expect(actual.map(\.docID) == expected.map(\.0), "order differs for '\(query)'")
            for (hit, (_, score)) in zip(actual, expected) {
                #expect(abs(hit.score - score) <= 1e-9 * max(1, abs(score)), "score differs for '\(query)': \(hit.score) vs \(score)")
            }
            compared += expected.count
        }
        #expect(Self.queries.count >= 30)
        #expect(compared > 200)
    }

    @Test func rankingEqualsFTS5AfterReplacementsAndDeletes() throws {
        var docs = Self.corpus(count: 2_000)
        var index = SearchIndex()
        for doc in docs { index.upsert(docID: doc.id, fields: doc.fields) }
        // Replace every 7th doc under a new id and delete every 11th, then compare with an FTS5
        // table holding the surviving documents.
        var nextID = UInt32(docs.count + 1)
        var survivors: [Doc] = []
        for doc in docs {
            if doc.id % 11 == 0 {
                index.remove(docID: doc.id, fields: doc.fields)
            } else if doc.id % 7 == 0 {
                index.remove(docID: doc.id, fields: doc.fields)
                let replaced = Doc(id: nextID, fields: doc.fields.reversed())
                survivors.append(replaced)
                nextID += 1
            } else {
                survivors.append(doc)
            }
        }
        for doc in survivors where doc.id > UInt32(docs.count) { index.upsert(docID: doc.id, fields: doc.fields) }
        docs = survivors
        let reference = try Self.fts5Reference(docs, limit: 10)
        for (query, expected) in zip(Self.queries, reference) {
            let actual = index.search(query, limit: 10)
            #expect(actual.map(\.docID) == expected.map(\.0), "order differs for '\(query)'")
            for (hit, (_, score)) in zip(actual, expected) {
                #expect(abs(hit.score - score) <= 1e-9 * max(1, abs(score)))
            }
        }
    }
}
