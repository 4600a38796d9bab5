import Foundation

extension SearchIndex {
    /// A short extract of the best field with the query's words in [brackets]: the reading when
    /// it matches, else the first field that does.
    public static func snippet(fields: [String], query: String, maxTokens: Int = 12) -> String {
        snippet(fields: fields, matching: SnippetMatcher(stems: Self.terms(query)), maxTokens: maxTokens)
    }

    /// A snippet with every word of the query's phrases in [brackets] (and every word a prefix
    /// begins), whichever part of the query they come from.
    public static func snippet(fields: [String], query: SearchQuery, maxTokens: Int = 12) -> String {
        snippet(fields: fields, matching: SnippetMatcher(query), maxTokens: maxTokens)
    }

    /// The snippet of one hit; `matcher` is made once per query and used for all its hits.
    static func snippet(fields: [String], matching matcher: SnippetMatcher, maxTokens: Int = 12) -> String {
        var order = Array(fields.indices)
        if fields.count > 2 { order = [2] + order.filter { $0 != 2 } }
        for index in order {
            var text = fields[index]
            if let out = text.withUTF8({ Self.window(of: $0, matching: matcher, maxTokens: maxTokens) }) {
                // A snippet is one line; check for a break before paying for a replacement.
                return out.utf8.contains(UInt8(ascii: "\n")) ? out.replacingOccurrences(of: "\n", with: " ") : out
            }
        }
        return ""
    }

    /// `maxTokens` tokens of `text` from 3 before its first match (fewer when it is near the
    /// end), matches in brackets, "…" where text was left out; nil when no token matches.
    /// Tokens are read only as far as the window needs (the rest of the field is not scanned),
    /// and a token's term is built and stemmed only when its first byte could match.
    private static func window(of text: UnsafeBufferPointer<UInt8>, matching matcher: SnippetMatcher, maxTokens: Int) -> String? {
        var runs: [Range<Int>] = []
        var matched: [Bool] = []
        var first: Int?
        Unicode61Tokenizer.forEachRun(in: text) { run, ascii in
            // Only a token past the window's end is needed: to know the window stops before the end.
            if let first, runs.count > max(0, first - 3) + maxTokens { return false }
            guard let isMatch = matcher.match(run, in: text, ascii: ascii) else { return true }
            runs.append(run)
            matched.append(isMatch)
            if first == nil, isMatch { first = runs.count - 1 }
            return true
        }
        guard let first else { return nil }
        // `runs.count` is the field's token count, or (when the scan stopped early) enough of it
        // that the window below is the same.
        let start = max(0, min(first - 3, runs.count - maxTokens))
        let end = min(runs.count, start + maxTokens)
        var out: [UInt8] = []
        out.reserveCapacity(text.count < 256 ? text.count + 16 : 256)
        let ellipsis = "…".utf8
        if start > 0 { out.append(contentsOf: ellipsis) }
        var cursor = start > 0 ? runs[start].lowerBound : 0
        for i in start..<end {
            let run = runs[i]
            out.append(contentsOf: text[cursor..<run.lowerBound])
            if matched[i] { out.append(UInt8(ascii: "[")) }
            out.append(contentsOf: text[run])
            if matched[i] { out.append(UInt8(ascii: "]")) }
            cursor = run.upperBound
        }
        if end < runs.count {
            out.append(contentsOf: ellipsis)
        } else {
            out.append(contentsOf: text[cursor...])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What a snippet highlights: the stems of a query's words, and the words its prefixes begin.
/// Made once per query. A token is compared by its stem, as it was indexed; but stemming keeps
/// a term's first byte (Porter only rewrites a suffix and always leaves a non-empty stem), so a
/// token whose first byte begins no wanted stem or prefix is passed over without building its
/// term or stemming it — most of a field's tokens, for a query of a few words.
struct SnippetMatcher {
    private let whole: Set<String>
    private let prefixes: [[UInt8]]
    /// Bit b is set when a wanted stem or prefix begins with byte b (all set for an empty prefix).
    private var firstBytes = [UInt64](repeating: 0, count: 4)

    init(stems: [String]) {
        self.init(whole: Set(stems), prefixes: [])
    }

    init(_ query: SearchQuery) {
        var whole = Set<String>(), prefixes: [[UInt8]] = []
        for phrase in query.phrases {
            whole.formUnion(phrase.prefix ? phrase.terms.dropLast() : phrase.terms[...])
            if phrase.prefix, let last = phrase.terms.last { prefixes.append(Array(last.utf8)) }
        }
        self.init(whole: whole, prefixes: prefixes)
    }

    private init(whole: Set<String>, prefixes: [[UInt8]]) {
        self.whole = whole
        self.prefixes = prefixes
        for start in whole.map({ $0.utf8.first }) + prefixes.map(\.first) {
            guard let start else {
                // An empty stem matches no token; an empty prefix begins every one.
                continue
            }
            firstBytes[Int(start >> 6)] |= 1 << (start & 63)
        }
        if prefixes.contains(where: \.isEmpty) { firstBytes = [UInt64](repeating: ~0, count: 4) }
    }

    /// Whether a token whose stem is `stem` is highlighted.
    func matches(_ stem: String) -> Bool {
        whole.contains(stem) || prefixes.contains { stem.utf8.starts(with: $0) }
    }

    /// Whether the token at `run` is highlighted; nil when the run is no token (it folds to nothing).
    func match(_ run: Range<Int>, in text: UnsafeBufferPointer<UInt8>, ascii: Bool) -> Bool? {
        if ascii {
            // An ASCII token folds to its lower-case bytes (and is always a token).
            let byte = text[run.lowerBound]
            guard mayBegin(byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte) else { return false }
        }
        guard let term = Unicode61Tokenizer.term(of: run, in: text, ascii: ascii) else { return nil }
        guard let byte = term.utf8.first, mayBegin(byte) else { return false }
        return matches(PorterStemmer.stem(term))
    }

    private func mayBegin(_ byte: UInt8) -> Bool {
        firstBytes[Int(byte >> 6)] & (1 << (byte & 63)) != 0
    }
}
