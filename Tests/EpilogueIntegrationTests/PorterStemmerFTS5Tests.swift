import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// `PorterStemmer` against SQLite FTS5's `porter` tokenizer (python3's sqlite3) on every word of a
/// large vocabulary: the real prose of the tokenizer oracle and the bundled dataset, English
/// suffix families built from stems, and seeded random letter strings.
@Suite struct PorterStemmerFTS5Tests {
    static func vocabulary() throws -> [String] {
        var words = Set<String>()
        for fields in try TokenizerFTS5OracleTests.documents() {
            for field in fields { words.formUnion(Unicode61Tokenizer.terms(field)) }
        }
        let stems = ["relat", "condit", "ration", "connect", "generaliz", "hope", "sens", "digit", "feud", "formal", "electr",
                     "adopt", "irrit", "depend", "adjust", "communism", "activ", "bow", "homolog", "effect", "analog", "vietnam",
                     "sky", "happ", "cr", "agre", "fil", "plaster", "bled", "motor", "sing", "conflat", "troubl", "siz", "hop",
                     "tann", "fall", "hiss", "fizz", "fail", "fil", "dream", "overdos", "distort", "quokk", "sacrific", "memor"]
        let suffixes = ["", "s", "es", "sses", "ies", "ss", "ed", "eed", "ing", "ings", "ly", "y", "e", "er", "ers", "ement", "ment",
                        "ational", "tional", "enci", "anci", "izer", "bli", "alli", "entli", "eli", "ousli", "ization", "ation",
                        "ator", "alism", "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "logi", "icate", "ative",
                        "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "ic", "able", "ible", "ant", "ent", "ion",
                        "sion", "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "ll", "at", "bl", "iz"]
        for stem in stems { for suffix in suffixes { words.insert(stem + suffix) } }
        let seed: UInt64 = 1_980
        print("PorterStemmerFTS5Tests random words seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let letters = Array("aeiouybcdglmnrstwxz".utf8)
        for _ in 0..<20_000 {
            let length = Int(rng.next() % 12) + 1
            words.insert(String(decoding: (0..<length).map { _ in letters[Int(rng.next() % UInt64(letters.count))] }, as: UTF8.self))
        }
        words.insert(String(repeating: "relational", count: 7))  // longer than 64 bytes: unchanged
        return words.sorted()
    }

    @Test func stemsEveryWordAsFTS5Porter() throws {
        let words = try Self.vocabulary()
        #expect(words.count > 20_000)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-porter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("words.json")
        try JSONSerialization.data(withJSONObject: words).write(to: input)
        let script = """
        import json, sqlite3, sys
        words = json.load(open(sys.argv[1]))
        db = sqlite3.connect(":memory:")
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 1')")
        db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        db.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", [(i + 1, w) for i, w in enumerate(words)])
        out = [None] * len(words)
        for term, doc in db.execute("SELECT term, doc FROM v"):
            out[doc - 1] = term
        print(json.dumps(out))
        """
        let output = try FTS5AgreementTests.runReference(script, input: input.path)
        let expected = try JSONDecoder().decode([String?].self, from: output)
        var wrong: [String] = []
        for (word, stem) in zip(words, expected) where PorterStemmer.stem(word) != stem {
            wrong.append("\(word): \(PorterStemmer.stem(word)) vs FTS5 " + (stem ?? "nil"))
        }
        #expect(wrong.isEmpty, "\(wrong.count) of \(words.count) differ: \(wrong.prefix(30).joined(separator: "; "))")
    }

    /// Snippets pass over a token whose first byte begins no wanted stem without stemming it
    /// (`SnippetMatcher`): that holds only because stemming never changes a term's first byte.
    @Test func stemmingKeepsEveryWordsFirstByte() throws {
        let changed = try Self.vocabulary().filter { PorterStemmer.stem($0).utf8.first != $0.utf8.first }
        #expect(changed.isEmpty, "\(changed.prefix(20))")
    }

    @Test func stemsTheIssueExamples() {
        #expect(PorterStemmer.stem("overdosed") == PorterStemmer.stem("overdose"))
        #expect(PorterStemmer.stem("distorts") == PorterStemmer.stem("distort"))
        #expect(PorterStemmer.stem("dreams") == "dream")
    }
}
