import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// The tokenizer and ranking against SQLite FTS5 itself (python3's sqlite3, `tokenize='unicode61
/// remove_diacritics 1'`, FTS5's defaults, which Unicode61Tokenizer documents it follows) on real
/// prose: punctuation, digits, both apostrophes, CJK, Hangul, Greek, Cyrillic, Devanagari, Arabic
/// and Hebrew marks, composed and decomposed diacritics. FTS5 is the oracle: tokens come from its
/// `fts5vocab` instance table, scores from `bm25()`.
///
/// Documented difference (Unicode61Tokenizer's doc comment): FTS5's character tables are from
/// Unicode 6.1; code points assigned later are classified by current Unicode data here and mostly
/// as token characters by FTS5. `everyScalarTokenizesAsFTS5DoesExceptThoseNewerThanUnicode61`
/// checks that this is the only difference over every code point up to U+323FF.
@Suite struct TokenizerFTS5OracleTests {
    /// Passages written for this test, in the store's domain (readings of film endings).
    static let prose: [String] = [
        "Mia's \"what-if\" montage lasts 7:40 — it's the film's 2nd dream, not its 1st (see p. 12, §3). Sebastian’s nod? It says: \"I'm proud of you\"… 100% bittersweet; rated 4.5/5 & 9.1 on 24/7 TV.",
        "In the 1950s-style epilogue (shot on 35mm, 2.55:1), the couple—older, wiser—meet at Seb's. Email: seb@jazz.example; #LaLaLand @chazelle_1985; café_au_lait; 3×4=12; 1,000,000 views; x86_64.",
        "L'épilogue de « La La Land » est une rêverie : Mia et Sebastian s'y aiment à Paris, où l'on boit un café crème. Naïve ? Déjà-vu ! Noël, Œdipe et cœur ; façade, garçon, Ægir.",
        "Der Schluss ist bittersüß: Mia und Sebastian treffen sich nach fünf Jahren wieder. STRASSE, Straße und GROẞE Gefühle; Äpfel, Öfen, Übermut — „ein Traum“, sagt der Kritiker.",
        "El final es agridulce: ¿qué habría pasado si él se hubiera quedado? ¡Señor, qué añoranza! La canción «City of Stars» suena en el piano; niño, año, corazón.",
        "O epílogo mostra o que não aconteceu: ação, emoção, coração; São Paulo e Lisboa; pão de açúcar.",
        "Zakończenie jest gorzkie: łza, żal, źródło, gęś; Łódź i Kraków. Konec je hořký: řeka, růže, šťastný, žluťoučký kůň úpěl ďábelské ódy.",
        "Türkçe: İstanbul'da ışık, ŞEHİR, ağaç, çiçek, öğrenci; IĞDIR ve ılık rüzgâr.",
        "Tiếng Việt: Kết thúc của phim là một giấc mơ đẹp; người xem cảm thấy nuối tiếc, nhưng cũng hạnh phúc.",
        "Το τέλος της ταινίας είναι ΓΛΥΚΟΠΙΚΟ· ο Σεβαστιανός και η Μία χωρίζουν. ΣΟΦΟΣ, σοφος, σοφός· Ἀθῆναι, ᾠδή, ϐ ϑ ϕ.",
        "Концовка фильма — это мечта: Миа и Себастьян расстаются. Ёлка, ЙОГУРТ, йод, ещё, ЕЩЁ; «Город звёзд».",
        "映画の結末は夢のようだ。ミアとセバスチャンは別れるが、がっかりではない。ピアノの音、ジャズクラブ「セブズ」、２０１６年、ＡＢＣ。",
        "电影的结局像一场梦：米娅和塞巴斯蒂安分手了。爵士乐、钢琴、洛杉矶；“星光之城”。",
        "영화의 결말은 꿈과 같다. 미아와 세바스찬은 헤어진다; 재즈 클럽, 피아노, 로스앤젤레스.",
        "फ़िल्म का अंत एक सपने जैसा है: मिया और सेबास्टियन अलग हो जाते हैं। संगीत, प्यार, क्षमा।",
        "نهاية الفيلم حُلْمٌ جميل: ميا وسيباستيان يفترقان. مُوسِيقَى الجاز والبيانو.",
        "סוף הסרט הוא חֲלוֹם: מִיָּה וְסֶבַּסְטְיָאן נִפְרָדִים. ג'אז, פסנתר.",
        "Symbols and marks: µs, ſ, ﬁne ﬂow, ½ ² ③ Ⅻ ٣, 𝔉𝔦𝔩𝔪, Ｆｕｌｌ－ｗｉｄｔｈ, K (kelvin), Å (ångström), Ω, ǅ ǈ ǋ, ǖ ǘ, ṩ, ẛ, ʼokina, naïve\u{00A0}café, zero\u{200B}width, join\u{200D}er, soft\u{00AD}hyphen, 🎬 film🎬reel.",
    ]

    /// Each passage as written, fully decomposed (NFD: what macOS file names and some keyboards
    /// produce), and upper-cased.
    static var proseVariants: [String] {
        prose.flatMap { [$0, $0.decomposedStringWithCanonicalMapping, $0.uppercased()] }
    }

    /// Documents as (film, subject, reading, source): the bundled dataset's real readings, then the
    /// prose above as readings.
    static func documents(withDecomposedHangul: Bool = true) throws -> [[String]] {
        let dataset = try BundledDataset.load().map { [$0.content.film, $0.content.subject, $0.content.reading, $0.content.source] }
        let written = proseVariants.enumerated().map { index, text in ["Prose \(index / 3)", "variant \(index % 3)", text, "TokenizerFTS5OracleTests"] }
            .filter { withDecomposedHangul || !($0[1] == "variant 1" && $0[2].unicodeScalars.contains { (0x1100...0x11FF).contains($0.value) }) }
        return dataset + written
    }

    // MARK: The oracle

    struct FTS5Answer: Decodable {
        /// Per document, per column, FTS5's terms in order.
        var terms: [[[String]]]
        /// Per query, (rowid, bm25) of the top `limit`.
        var ranking: [[[Double]]]
        /// (code point, 1 if a token character, its folded form) for the sweep.
        var sweep: [[Sweep]]?
    }

    enum Sweep: Decodable {
        case int(Int)
        case text(String)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let value = try? container.decode(Int.self) { self = .int(value) } else { self = .text(try container.decode(String.self)) }
        }
        var int: Int { if case .int(let v) = self { return v } else { return -1 } }
        var text: String { if case .text(let v) = self { return v } else { return "" } }
    }

    static let script = #"""
    import json, sqlite3, sys
    data = json.load(open(sys.argv[1]))
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(film, subject, reading, source, tokenize='unicode61 remove_diacritics 1')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.executemany("INSERT INTO t(rowid, film, subject, reading, source) VALUES (?,?,?,?,?)",
                   [(i + 1, *d) for i, d in enumerate(data["docs"])])
    # Ranking as the index ranks: the same words, Porter-stemmed (SearchIndex.terms).
    db.execute("CREATE VIRTUAL TABLE r USING fts5(film, subject, reading, source, tokenize='porter unicode61 remove_diacritics 1')")
    db.execute("INSERT INTO r(rowid, film, subject, reading, source) SELECT rowid, film, subject, reading, source FROM t")
    columns = {"film": 0, "subject": 1, "reading": 2, "source": 3}
    terms = [[[], [], [], []] for _ in data["docs"]]
    for term, doc, col, offset in db.execute("SELECT term, doc, col, offset FROM v ORDER BY doc, col, offset"):
        terms[doc - 1][columns[col]].append(term)
    ranking = []
    for q in data["queries"]:
        match = " ".join('"' + w.replace('"', '""') + '"' for w in q)
        ranking.append(db.execute("SELECT rowid, bm25(r) FROM r WHERE r MATCH ? ORDER BY bm25(r), rowid LIMIT ?",
                                  (match, data["limit"])).fetchall())
    out = {"terms": terms, "ranking": ranking}
    if data["sweep"]:
        s = sqlite3.connect(":memory:")
        s.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='unicode61 remove_diacritics 1')")
        s.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        cps = [c for c in range(0x80, 0x32400) if not 0xD800 <= c <= 0xDFFF] + list(range(0xE0000, 0xE01F0))
        for i in range(0, len(cps), 2000):
            s.execute("INSERT INTO t(rowid, x) VALUES (?, ?)", (i // 2000, " ".join("q" + chr(c) + "z" for c in cps[i:i + 2000])))
        rows = iter([r[0] for r in s.execute("SELECT term FROM v ORDER BY doc, offset")])
        sweep = []
        for c in cps:
            term = next(rows)
            if term == "q":
                assert next(rows) == "z"
                sweep.append([c, 0, ""])
            else:
                sweep.append([c, 1, term[1:-1]])
        out["sweep"] = sweep
    print(json.dumps(out))
    """#

    static func fts5(documents: [[String]], queries: [[String]], limit: Int = 10, sweep: Bool = false) throws -> FTS5Answer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-fts5-oracle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.json")
        try JSONSerialization.data(withJSONObject: ["docs": documents, "queries": queries, "limit": limit, "sweep": sweep] as [String: Any])
            .write(to: input)
        let output = try FTS5AgreementTests.runReference(script, input: input.path)
        return try JSONDecoder().decode(FTS5Answer.self, from: output)
    }

    /// Terms compared scalar by scalar: Swift's `==` on String is canonical equivalence, which would
    /// hide a decomposed term where FTS5 has a composed one.
    static func scalars(_ terms: [String]) -> [[UInt32]] { terms.map { $0.unicodeScalars.map(\.value) } }

    /// Code points Unicode 6.1 had, whose properties changed later, so FTS5's tables and current
    /// Unicode disagree (documented in Unicode61Tokenizer): Cherokee capitals gained lower-case
    /// forms (8.0); New Tai Lue vowel signs became letters (8.0); two Mongolian letters became marks
    /// (9.0); two Vedic signs became letters (10.0); and noncharacters, which FTS5 takes for letters.
    static func changedAfterUnicode61(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x13A0...0x13F5, 0x19B0...0x19C9, 0x1885...0x1886, 0x1CF2...0x1CF3: return true
        default: return scalar.properties.isNoncharacterCodePoint
        }
    }

    // MARK: Tests

    @Test func proseTokenizesExactlyAsFTS5Does() throws {
        let docs = try Self.documents()
        let answer = try Self.fts5(documents: docs, queries: [])
        var compared = 0
        for (doc, fts5Columns) in zip(docs, answer.terms) {
            for (field, expected) in zip(doc, fts5Columns) {
                let ours = Unicode61Tokenizer.terms(field)
                #expect(Self.scalars(ours) == Self.scalars(expected), "\(field.debugDescription)\n ours: \(ours)\n fts5: \(expected)")
                #expect(Unicode61Tokenizer.tokenize(field).map(\.term) == ours)
                compared += expected.count
            }
        }
        #expect(compared > 4_000, "too few tokens compared: \(compared)")
    }

    /// Each non-ASCII code point up to U+323FF (and the tags/variation selectors of plane 14)
    /// between two letters: a token character joins them into one token with its folded form,
    /// anything else splits them. Agreement is required for every code point Unicode 6.1 had
    /// assigned; later ones are the documented difference and are only counted.
    @Test func everyScalarTokenizesAsFTS5DoesExceptThoseNewerThanUnicode61() throws {
        let answer = try Self.fts5(documents: [], queries: [], sweep: true)
        let sweep = try #require(answer.sweep)
        #expect(sweep.count > 200_000)
        var agreed = 0
        var newer = 0
        var disagreements: [String] = []
        for entry in sweep {
            let (value, isToken, fold) = (UInt32(entry[0].int), entry[1].int == 1, entry[2].text)
            guard let scalar = Unicode.Scalar(value) else { continue }
            let expected = isToken ? ["q" + fold + "z"] : ["q", "z"]
            let ours = Unicode61Tokenizer.terms("q" + String(scalar) + "z")
            if Self.scalars(ours) == Self.scalars(expected) {
                agreed += 1
                continue
            }
            if let age = scalar.properties.age, (age.major, age.minor) <= (6, 1), !Self.changedAfterUnicode61(scalar) {
                disagreements.append(String(format: "U+%04X", value) + " \(scalar.properties.name ?? "?"): ours \(ours), fts5 \(expected)")
            } else {
                newer += 1
            }
        }
        print("TokenizerFTS5OracleTests: \(agreed) code points agree with FTS5; \(newer) assigned after Unicode 6.1 differ (documented)")
        let listed = disagreements.prefix(400).joined(separator: "\n")
        #expect(disagreements.isEmpty, "\(disagreements.count) code points of Unicode ≤ 6.1 differ:\n\(listed)")
        #expect(agreed > 150_000)
    }

    /// The documented difference, seen in text: an emoji of Unicode 8 (🤔) separates words here;
    /// FTS5's Unicode 6.1 tables take it for a letter. One of Unicode 6.0 (🎬) separates in both.
    @Test func emojiNewerThanUnicode61IsASeparatorHereAndALetterToFTS5() throws {
        let text = "great🤔movie, great🎬movie"
        let answer = try Self.fts5(documents: [["", "", text, ""]], queries: [])
        #expect(answer.terms[0][2] == ["great🤔movie", "great", "movie"])
        #expect(Unicode61Tokenizer.terms(text) == ["great", "movie", "great", "movie"])
    }

    /// BM25 order and scores equal FTS5's on the prose and the dataset, for queries made of words as
    /// they are written in the text (composed, decomposed, upper-case), 1–3 words, seeded.
    /// The other documented difference: the index compares terms as Swift strings, by canonical
    /// equivalence, so a Hangul word stored decomposed into jamo (NFD) is the same term as its
    /// composed form; to FTS5 they are different terms. (Tokens agree scalar for scalar; only the
    /// matching differs, and with it the BM25 statistics of such documents.)
    @Test func decomposedHangulMatchesItsComposedFormHereButNotInFTS5() throws {
        let composed = "영화의 결말"
        let decomposed = composed.decomposedStringWithCanonicalMapping
        #expect(Array(composed.unicodeScalars) != Array(decomposed.unicodeScalars))
        let answer = try Self.fts5(documents: [["", "", composed, ""], ["", "", decomposed, ""]], queries: [["영화의"]])
        #expect(answer.ranking[0].map { Int($0[0]) } == [1])
        var index = SearchIndex()
        index.upsert(docID: 1, fields: ["", "", composed, ""])
        index.upsert(docID: 2, fields: ["", "", decomposed, ""])
        #expect(Set(index.search("영화의", limit: 10).map(\.docID)) == [1, 2])
    }

    /// (Without the decomposed-Hangul passage: see the test above.)
    @Test func rankingOnProseEqualsFTS5() throws {
        let docs = try Self.documents(withDecomposedHangul: false)
        var index = SearchIndex()
        for (offset, doc) in docs.enumerated() { index.upsert(docID: UInt32(offset + 1), fields: doc) }
        // Surface forms of tokens, as written, from every passage variant and a sample of readings.
        var words: [String] = []
        for doc in docs {
            let text = doc[2]
            words += Unicode61Tokenizer.tokenize(text).map { String(text.unicodeScalars[$0.range]) }
        }
        let seed: UInt64 = 0x5EA7C4
        print("TokenizerFTS5OracleTests.rankingOnProseEqualsFTS5: seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let proseWords = docs.filter { $0[3] == "TokenizerFTS5OracleTests" }.map { $0[2] }
            .flatMap { text in Unicode61Tokenizer.tokenize(text).map { String(text.unicodeScalars[$0.range]) } }
        var queries: [[String]] = proseWords.filter { !$0.allSatisfy(\.isASCII) }.map { [$0] }  // every non-ASCII word alone
        for _ in 0..<300 {
            let count = Int(rng.next() % 3) + 1
            let pool = rng.next() % 2 == 0 ? proseWords : words
            queries.append((0..<count).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })
        }
        let answer = try Self.fts5(documents: docs, queries: queries)
        var compared = 0
        var differences: [String] = []
        for (query, expected) in zip(queries, answer.ranking) {
            let hits = index.search(query.joined(separator: " "), limit: 10)
            if hits.map(\.docID) != expected.map({ UInt32($0[0]) }) {
                differences.append("order for \(query): ours \(hits.map(\.docID)), fts5 \(expected.map { Int($0[0]) })")
            }
            for (hit, row) in zip(hits, expected) where abs(hit.score - row[1]) > 1e-9 * max(1, abs(row[1])) {
                differences.append("score for \(query), doc \(hit.docID): ours \(hit.score), fts5 \(row[1])")
            }
            compared += expected.count
        }
        let listed = differences.prefix(20).joined(separator: "\n")
        #expect(differences.isEmpty, "\(differences.count) differences from FTS5 (seed \(seed)):\n\(listed)")
        #expect(compared > 1_000, "too few hits compared: \(compared)")
    }
}
