import Foundation
import Testing
@testable import EpilogueStore

@Suite struct SearchQueryParserTests {
    typealias P = SearchQuery.Phrase
    private func parse(_ text: String) throws -> SearchQuery.Node? { try SearchQuery(parsing: text).root }
    /// Query words are stemmed as the index's terms are.
    private func word(_ w: String, prefix: Bool = false, column: Int? = nil) -> SearchQuery.Node { .phrase(P(terms: [PorterStemmer.stem(w)], prefix: prefix, column: column)) }
    private func stems(_ words: String...) -> [String] { words.map(PorterStemmer.stem) }

    @Test func barewordsAreAllRequiredAndPunctuationSplitsThem() throws {
        #expect(try parse("dream love") == .and([word("dream"), word("love")]))
        #expect(try parse("one-woman") == .and([word("one"), word("woman")]))
        #expect(try parse("Café") == word("cafe"))
        #expect(try parse("") == nil)
        #expect(try parse("  ,,, ") == nil)
        #expect(try parse("dream ,,,") == word("dream"))
    }

    @Test func phrasesPrefixesAndColumns() throws {
        #expect(try parse("\"one-woman show\"") == .phrase(P(terms: stems("one", "woman", "show"))))
        #expect(try parse("\"say \"\"hi\"\"\"") == .phrase(P(terms: stems("say", "hi"))))
        #expect(try parse("dre*") == word("dre", prefix: true))
        #expect(try parse("\"city of\"*") == .phrase(P(terms: stems("city", "of"), prefix: true)))
        #expect(try parse("reading:dream") == word("dream", column: 2))
        #expect(try parse("Subject:(airport OR \"last scene\")") == .or([word("airport", column: 1), .phrase(P(terms: stems("last", "scene"), column: 1))]))
        #expect(try parse("7:40") == .and([word("7"), word("40")]), "a colon after a non-column is punctuation")
    }

    @Test func operatorsBindNotThenAndThenOr() throws {
        #expect(try parse("a OR b c") == .or([word("a"), .and([word("b"), word("c")])]))
        #expect(try parse("a b NOT c") == .and([word("a"), .not(word("b"), word("c"))]))
        #expect(try parse("a NOT b NOT c") == .not(.not(word("a"), word("b")), word("c")))
        #expect(try parse("(a OR b) AND c") == .and([.or([word("a"), word("b")]), word("c")]))
        #expect(try parse("a (b c)") == .and([word("a"), word("b"), word("c")]))
        #expect(try parse("dream or quokka") == .and([word("dream"), word("or"), word("quokka")]), "lower-case or is a word")
    }

    @Test func malformedQueriesSayWhatAndWhere() {
        func error(_ text: String) -> String? {
            do { _ = try SearchQuery(parsing: text); return nil } catch { return error.description }
        }
        #expect(error("dream (quokka") == "unbalanced parenthesis at 7")
        #expect(error("dream quokka)") == "unbalanced parenthesis at 13")
        #expect(error("dream OR") == "expected a word after OR at 9")
        #expect(error("OR dream") == "expected a word before OR at 1")
        #expect(error("dream NOT") == "expected a word after NOT at 10")
        #expect(error("a AND OR b") == "expected a word after AND at 7")
        #expect(error("dream ()") == "empty parentheses at 7")
        #expect(error("\"one woman") == "unterminated quote at 1")
        #expect(error("dream *") == "'*' must follow a word at 7")
        #expect(error("reading:") == "expected a word or group after 'reading:' at 1")
    }

    /// Seeded random strings over the syntax's characters: parsing never crashes, and every error
    /// names a position inside the text (or just after it).
    @Test func randomInputNeverCrashesAndErrorsCarryPositions() {
        let seed = UInt64(ProcessInfo.processInfo.environment["EPILOGUE_FUZZ_SEED"] ?? "") ?? 20_261_129
        print("randomInputNeverCrashesAndErrorsCarryPositions seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let pieces = ["dream", "OR", "AND", "NOT", "(", ")", "\"", "*", ":", "reading:", "film:", " ", " ", "é", "-", "\"\"", "x", "NEAR", "^", "+", "or"]
        var errors = 0
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 12)
            let text = (0..<n).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            do {
                _ = try SearchQuery(parsing: text)
            } catch {
                errors += 1
                #expect((1...(text.count + 1)).contains(error.position), "\(text): \(error)")
                #expect(!error.message.isEmpty)
            }
        }
        #expect(errors > 1_000, "the generator should produce malformed queries too")
    }
}

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
        let texts = Dictionary(uniqueKeysWithValues: docs.map { ($0.0, $0.1) })
        let reference = try fts5(docs, queries: queries)
        var compared = 0
        for (i, query) in queries.enumerated() {
            let page = index.search(try SearchQuery(parsing: query), limit: 10, offset: 0, fields: { texts[$0] })
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
