import Foundation

extension SearchIndex {
    /// A short extract of the best field with the query's words in [brackets]: the reading when
    /// it matches, else the first field that does.
    public static func snippet(fields: [String], query: String, maxTokens: Int = 12) -> String {
        let wanted = Set(Self.terms(query))
        return snippet(fields: fields, highlighting: { wanted.contains($0) }, maxTokens: maxTokens)
    }

    /// A snippet with every word of the query's phrases in [brackets] (and every word a prefix
    /// begins), whichever part of the query they come from.
    public static func snippet(fields: [String], query: SearchQuery, maxTokens: Int = 12) -> String {
        var whole = Set<String>(), prefixes: [[UInt8]] = []
        for phrase in query.phrases {
            whole.formUnion(phrase.prefix ? phrase.terms.dropLast() : phrase.terms[...])
            if phrase.prefix, let last = phrase.terms.last { prefixes.append(Array(last.utf8)) }
        }
        return snippet(fields: fields, highlighting: { term in
            whole.contains(term) || prefixes.contains { term.utf8.starts(with: $0) }
        }, maxTokens: maxTokens)
    }

    static func snippet(fields: [String], highlighting wanted: (String) -> Bool, maxTokens: Int) -> String {
        var order = Array(fields.indices)
        if fields.count > 2 { order = [2] + order.filter { $0 != 2 } }
        for index in order {
            let text = fields[index]
            let tokens = Unicode61Tokenizer.tokenize(text)
            // Tokens are compared by their stems, as they were indexed; only the tokens up to the
            // first match and those in the window are stemmed (a stem costs more than a token).
            var stems = [String?](repeating: nil, count: tokens.count)
            func stem(_ i: Int) -> String {
                if let known = stems[i] { return known }
                let computed = PorterStemmer.stem(tokens[i].term)
                stems[i] = computed
                return computed
            }
            guard let first = tokens.indices.first(where: { wanted(stem($0)) }) else { continue }
            let start = max(0, min(first - 3, tokens.count - maxTokens))
            let end = min(tokens.count, start + maxTokens)
            var out = start > 0 ? "…" : ""
            var cursor = start > 0 ? tokens[start].range.lowerBound : text.unicodeScalars.startIndex
            for i in start..<end {
                let token = tokens[i]
                out += String(text.unicodeScalars[cursor..<token.range.lowerBound])
                let word = String(text.unicodeScalars[token.range])
                out += wanted(stem(i)) ? "[\(word)]" : word
                cursor = token.range.upperBound
            }
            if end < tokens.count {
                out += "…"
            } else {
                out += String(text.unicodeScalars[cursor...])
            }
            // A snippet is one line; check for a break before paying for a replacement.
            return out.utf8.contains(UInt8(ascii: "\n")) ? out.replacingOccurrences(of: "\n", with: " ") : out
        }
        return ""
    }
}
