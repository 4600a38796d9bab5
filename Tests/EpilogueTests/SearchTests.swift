import Foundation
import Testing
@testable import EpilogueStore

@Suite struct TokenizerTests {
    /// The scalar-by-scalar tokenizer that `scan` replaced: the reference it is compared with. It
    /// shares `isTokenCharacter` and `fold` with the implementation, so it checks only the byte
    /// scanner; what a token is and how it folds is checked against FTS5 itself in
    /// `TokenizerFTS5OracleTests`.
    static func tokenizeByScalars(_ text: String) -> [SearchToken] {
        var tokens: [SearchToken] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            guard Unicode61Tokenizer.isTokenCharacter(scalars[index]) else {
                index = scalars.index(after: index)
                continue
            }
            let start = index
            var term = String.UnicodeScalarView()
            var ascii = true
            while index < scalars.endIndex, Unicode61Tokenizer.isTokenCharacter(scalars[index]) {
                let scalar = scalars[index]
                if scalar.isASCII {
                    // A–Z → a–z; digits and a–z as they are.
                    term.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
                } else {
                    ascii = false
                    term.append(scalar)
                }
                index = scalars.index(after: index)
            }
            var folded = String(term)
            if !ascii { folded = Unicode61Tokenizer.fold(folded) }
            // A run of combining diacritics alone folds to nothing and is no token.
            if !folded.isEmpty { tokens.append(SearchToken(term: folded, range: start..<index)) }
        }
        return tokens
    }

    @Test func foldsCaseAndRemovesDiacritics() {
        #expect(Unicode61Tokenizer.terms("Café NAÏVE Élan") == ["cafe", "naive", "elan"])
    }

    @Test func splitsOnPunctuationAndApostrophesLikeUnicode61() {
        #expect(Unicode61Tokenizer.terms("Sebastian's jazz-club, \"Seb's\"!") == ["sebastian", "s", "jazz", "club", "seb", "s"])
    }

    @Test func keepsDigitsAndNonLatinLetters() {
        #expect(Unicode61Tokenizer.terms("2016: La La Land — 東京 x2") == ["2016", "la", "la", "land", "東京", "x2"])
    }

    @Test func byteScanGivesTheSameTokensAsTheScalarReference() {
        let seed = TestSeed()
        var generator = seed.generator
        let alphabet = Array("abcXYZ019 .,'-_\t\n\"()éÉÏñß日本語🎬–’\u{301}ǅⅫ٣")
        for _ in 0..<3_000 {
            let text = String((0..<Int.random(in: 0..<60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let reference = Self.tokenizeByScalars(text)
            let tokens = Unicode61Tokenizer.tokenize(text)
            #expect(tokens.map(\.term) == reference.map(\.term), "\(text.debugDescription); \(seed)")
            #expect(tokens.map { String(text.unicodeScalars[$0.range]) } == reference.map { String(text.unicodeScalars[$0.range]) },
                    "\(text.debugDescription); \(seed)")
            #expect(Unicode61Tokenizer.terms(text) == reference.map(\.term), "\(text.debugDescription); \(seed)")
        }
    }

    @Test func rangesPointBackIntoTheText() {
        let text = "The Dream, ended."
        let tokens = Unicode61Tokenizer.tokenize(text)
        #expect(tokens.map { String(text.unicodeScalars[$0.range]) } == ["The", "Dream", "ended"])
    }
}

@Suite struct SearchIndexTests {
    private func index(_ docs: [[String]]) -> SearchIndex {
        var index = SearchIndex()
        for (i, fields) in docs.enumerated() { index.upsert(docID: UInt32(i + 1), fields: fields) }
        return index
    }

    @Test func everyQueryWordMustOccur() {
        let idx = index([["", "", "dream and love", ""], ["", "", "dream alone", ""], ["", "", "love alone", ""]])
        #expect(idx.search("dream love", limit: 10).map(\.docID) == [1])
        #expect(idx.search("dream", limit: 10).count == 2)
        #expect(idx.search("nowhere", limit: 10).isEmpty)
        #expect(idx.search("  ,,, ", limit: 10).isEmpty)
    }

    @Test func replacingAndRemovingUpdateResultsAndStatistics() {
        var idx = index([["", "", "dream", ""], ["", "", "dream", ""]])
        idx.remove(docID: 1, fields: ["", "", "dream", ""])
        #expect(idx.search("dream", limit: 10).map(\.docID) == [2])
        idx.upsert(docID: 3, fields: ["", "", "nightmare", ""])
        idx.remove(docID: 2, fields: ["", "", "dream", ""])
        #expect(idx.search("dream", limit: 10).isEmpty)
        #expect(idx.documentCount == 1)
    }

    @Test func filterIsAppliedBeforeTheLimit() {
        let idx = index((0..<20).map { _ in ["", "", "dream", ""] })
        let hits = idx.search("dream", limit: 3, where: { $0 % 5 == 0 })
        #expect(hits.map(\.docID) == [5, 10, 15])
    }

    @Test func totalCountsEveryMatchTheFilterAcceptsAndPagesTileTheRanking() {
        // Documents 1…30, "dream" repeated 1…3 times so scores differ and tie in places.
        let idx = index((0..<30).map { i in ["", "", String(repeating: "dream ", count: i % 3 + 1) + "filler", ""] }
                        + [["", "", "no match here", ""]])
        let all = idx.search("dream", limit: 100, offset: 0)
        #expect(all.total == 30 && all.hits.count == 30)
        let paged = stride(from: 0, to: 35, by: 7).flatMap { idx.search("dream", limit: 7, offset: $0).hits }
        #expect(paged == all.hits)
        #expect(idx.search("dream", limit: 1, offset: 0).total == 30)
        let past = idx.search("dream", limit: 5, offset: 40)
        #expect(past.hits.isEmpty && past.total == 30)
        #expect(idx.search("dream", limit: 2, offset: 0, where: { $0 % 2 == 0 }).total == 15)
    }

    @Test func wordsFindTheirOtherEnglishFormsThroughStems() {
        let idx = index([["", "", "Benji overdosed on sleeping pills", ""], ["", "", "success that distorts a romance", ""],
                         ["", "", "their dreams", ""], ["", "", "a dream", ""]])
        #expect(idx.search("overdose", limit: 10).map(\.docID) == [1])
        #expect(idx.search("distort", limit: 10).map(\.docID) == [2])
        #expect(Set(idx.search("dreaming", limit: 10).map(\.docID)) == [3, 4])
        #expect(SearchIndex.snippet(fields: ["", "", "Benji overdosed on sleeping pills", ""], query: "overdose") == "Benji [overdosed] on sleeping pills")
    }

    @Test func suggesterFindsTermsWithinTheAllowedTyposMostCommonFirst() {
        var idx = index([["", "", "chazelle directed the dream", ""], ["", "", "dream dream", ""], ["", "", "dreary cream", ""]])
        func suggest(_ word: String) -> [String] { idx.suggester.suggestions(for: PorterStemmer.stem(word), in: idx).map(\.term) }
        #expect(suggest("chazzelle") == [PorterStemmer.stem("chazelle")])
        #expect(suggest("draem").isEmpty, "a transposition is two edits; five letters allow one")
        #expect(suggest("dreem") == ["dream"])
        #expect(suggest("dre").isEmpty, "no typos below four letters")
        // A term added after the sorted copy was built shows up once the vocabulary has grown enough.
        for i in 0..<100 { idx.upsert(docID: UInt32(10 + i), fields: ["", "", "filler\(i) quokka", ""]) }
        #expect(suggest("quokkka") == ["quokka"])
    }

    @Test func shorterDocumentRanksHigherForTheSameTermCount() {
        let idx = index([["", "", "dream " + String(repeating: "filler ", count: 30), ""], ["", "", "dream", ""], ["", "", "other words", ""]])
        #expect(idx.search("dream", limit: 10).map(\.docID) == [2, 1])
    }

    @Test func snippetMarksMatchesAndPrefersTheReading() {
        let fields = ["La La Land", "epilogue", "The montage imagines the life Mia and Sebastian could have had, a dream of what might have been, before the final look.", "Critic"]
        let snippet = SearchIndex.snippet(fields: fields, query: "dream land")
        #expect(snippet.contains("[dream]"))
        #expect(snippet.hasPrefix("…"))
        #expect(snippet.hasSuffix("…"))
        #expect(SearchIndex.snippet(fields: fields, query: "land") == "La La [Land]")
        #expect(SearchIndex.snippet(fields: fields, query: "absent") == "")
    }
}

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
