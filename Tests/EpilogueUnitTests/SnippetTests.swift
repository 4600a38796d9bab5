import EpilogueModel
import Foundation
import Testing
@testable import EpilogueStorage

/// Snippets are built from a partial scan (tokens read only as far as the window needs, terms
/// stemmed only when their first byte could match): they must equal, byte for byte, what the
/// plain definition gives — tokenize the whole field, stem every token, take the window around
/// the first match — which `reference` spells out.
@Suite struct SnippetTests {
    /// The definition: every token stemmed, the reading first, 3 tokens before the first match.
    static func reference(fields: [String], highlighting wanted: (String) -> Bool, maxTokens: Int = 12) -> String {
        let order = fields.count > 2 ? [2] + fields.indices.filter { $0 != 2 } : Array(fields.indices)
        for index in order {
            let text = fields[index]
            let tokens = Unicode61Tokenizer.tokenize(text)
            let hit = tokens.map { wanted(PorterStemmer.stem($0.term)) }
            guard let first = hit.firstIndex(of: true) else { continue }
            let start = max(0, min(first - 3, tokens.count - maxTokens))
            let end = min(tokens.count, start + maxTokens)
            var out = start > 0 ? "…" : ""
            // Token ranges fall between Unicode scalars, not always between characters: slice the scalars.
            let scalars = text.unicodeScalars
            var cursor = start > 0 ? tokens[start].range.lowerBound : scalars.startIndex
            for i in start..<end {
                out += String(scalars[cursor..<tokens[i].range.lowerBound])
                let word = String(scalars[tokens[i].range])
                out += hit[i] ? "[\(word)]" : word
                cursor = tokens[i].range.upperBound
            }
            out += end < tokens.count ? "…" : String(scalars[cursor...])
            return out.replacingOccurrences(of: "\n", with: " ")
        }
        return ""
    }

    static func reference(fields: [String], query: SearchQuery) -> String {
        var whole = Set<String>(), prefixes: [String] = []
        for phrase in query.phrases {
            whole.formUnion(phrase.prefix ? phrase.terms.dropLast() : phrase.terms[...])
            if phrase.prefix, let last = phrase.terms.last { prefixes.append(last) }
        }
        return reference(fields: fields, highlighting: { stem in whole.contains(stem) || prefixes.contains { stem.hasPrefix($0) } })
    }

    /// Fields that exercise the edges: non-ASCII words (folded, with diacritics), a run of
    /// combining marks alone (no token), line breaks, a match in the last tokens, a field shorter
    /// than the window, and words that stem to another first letter's neighbours ("ayed" → "ai").
    static let edgeFields: [[String]] = [
        ["Amélie", "the café scene", "Un CAFÉ à Paris: the dreamers dreamed of \u{301}\u{301} dreams, réalité and relational ties.\nThen\r\nnothing", "critic"],
        ["La La Land", "epilogue", "short dream", "Director"],
        ["x", "y", "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen dreaming", "z"],
        ["x", "y", "dreaming one two three four five six seven eight nine ten eleven twelve thirteen", "z"],
        ["x", "y", "one two three four dreams five six seven eight nine ten eleven twelve thirteen fourteen", "z"],
        ["x", "y", "the hayed fields were ayed, happily relationally; possibility of sensibility — Ελληνικά κείμενα, İstanbul, ǖ", "z"],
        ["Dream Film", "dreams", "nothing here", "dreamy source"],
        ["", "", "", ""],
    ]

    static let edgeQueries = ["dream", "dreams réalité", "cafe", "ai", "relat* paris", "happi possibl", "\"then nothing\"",
                              "istanbul", "ελληνικα", "ǖ", "film", "source", "dream OR nothing", "fourteen fifteen",
                              "thirteen", "a*", "sensibl", "hay", "one NOT two", "subject:dreams", "absent"]

    @Test func snippetsEqualTheDefinitionOnTheEdgeCases() throws {
        for fields in Self.edgeFields {
            for text in Self.edgeQueries {
                let query = try SearchQuery(parsing: text)
                #expect(SearchIndex.snippet(fields: fields, query: query) == Self.reference(fields: fields, query: query),
                        "query \(text) on \(fields)")
                let stems = Set(SearchIndex.terms(text))
                #expect(SearchIndex.snippet(fields: fields, query: text) == Self.reference(fields: fields, highlighting: stems.contains),
                        "plain query \(text) on \(fields)")
            }
        }
    }

    /// Every bundled record with queries made of its own words (each word, its prefix, pairs),
    /// so the matches fall at every place in the fields.
    @Test func snippetsEqualTheDefinitionOnTheBundledDataset() throws {
        let entries = try BundledDataset.load()
        var compared = 0
        for (n, entry) in entries.enumerated() {
            let fields = RecordIndex.searchFields(entry.content)
            let words = Unicode61Tokenizer.terms(fields.joined(separator: " "))
            for (k, word) in words.enumerated() where k % 3 == n % 3 {
                for text in [word, String(word.prefix(3)) + "*", word + " " + words[(k * 7 + 1) % words.count]] {
                    let query = try SearchQuery(parsing: text)
                    #expect(SearchIndex.snippet(fields: fields, query: query) == Self.reference(fields: fields, query: query),
                            "query \(text) on \(entry.id)")
                    compared += 1
                }
            }
        }
        #expect(compared > 1_000)
    }

    @Test func aQueryWithNoWordsHighlightsNothing() throws {
        #expect(SearchIndex.snippet(fields: ["a", "b", "dream", "c"], query: "") == "")
        #expect(SearchIndex.snippet(fields: ["a", "b", "dream", "c"], query: try SearchQuery(parsing: "")) == "")
    }
}
