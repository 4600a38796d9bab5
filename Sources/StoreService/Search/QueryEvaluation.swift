import Foundation

/// Evaluating a `SearchQuery` with phrases, prefixes, OR, NOT and column filters.
///
/// The posting lists hold (doc, frequency) per term, no positions and no columns. A phrase of
/// several words, or any column-filtered phrase, is therefore verified: its candidates are the
/// documents holding all its words (from the postings), and each candidate's text (`fields`) is
/// tokenized to count the phrase's occurrences. That keeps the index as small as it is (positions
/// would roughly double it, see docs/PERFORMANCE.md) and costs one inflate + tokenize per
/// candidate, paid only by phrase and column queries. Ranking stays FTS5's: bm25 sums over every
/// phrase of the query, with each phrase's idf from the number of documents matching it (over the
/// whole index, as FTS5's xQueryPhrase counts) and its frequency its occurrences in the document.
extension SearchIndex {
    /// The documents matching one phrase, ascending, with its occurrences in each.
    struct PhraseMatches {
        var docs: [UInt32] = []
        var frequencies: [UInt32] = []

        func frequency(of doc: UInt32) -> UInt32 {
            var low = 0, high = docs.count
            while low < high {
                let mid = (low + high) / 2
                if docs[mid] < doc { low = mid + 1 } else { high = mid }
            }
            return low < docs.count && docs[low] == doc ? frequencies[low] : 0
        }
    }

    /// Per-query cache of documents' tokens by column, so a document is inflated once.
    final class DocumentTexts {
        let fields: (UInt32) -> [String]?
        private var cache: [UInt32: [[String]]] = [:]
        init(_ fields: @escaping (UInt32) -> [String]?) { self.fields = fields }

        func columns(_ doc: UInt32) -> [[String]] {
            if let hit = cache[doc] { return hit }
            let columns = (fields(doc) ?? []).map(SearchIndex.terms)
            cache[doc] = columns
            return columns
        }
    }

    /// The page of `query`'s hits, ranked as FTS5's `bm25()` ranks that query. `fields` gives a
    /// document's (film, subject, reading, source); it is called only to verify phrases of
    /// several words and column filters.
    public func search(_ query: SearchQuery, limit: Int, offset: Int, where include: (UInt32) -> Bool = { _ in true },
                       fields: @escaping (UInt32) -> [String]?) -> SearchPage {
        if let terms = query.plainTerms { return search(terms: terms, limit: limit, offset: offset, where: include) }
        guard limit > 0, offset >= 0, let root = query.root, documentCount > 0 else { return .empty }
        let texts = DocumentTexts(fields)
        let phrases = query.phrases
        var matchesByPhrase: [SearchQuery.Phrase: PhraseMatches] = [:]
        for phrase in phrases where matchesByPhrase[phrase] == nil { matchesByPhrase[phrase] = matches(phrase, texts) }
        let n = Double(documentCount)
        let averageLength = Double(totalTokens) / n
        let weighted = phrases.map { phrase -> (PhraseMatches, Double) in
            let m = matchesByPhrase[phrase]!
            let hits = Double(m.docs.count)
            let idf = log((n - hits + 0.5) / (hits + 0.5))
            return (m, idf <= 0 ? 1e-6 : idf)
        }
        var top = TopHits(limit: offset + limit)
        var total = 0
        for doc in evaluate(root, matchesByPhrase) where include(doc) {
            total += 1
            let lengthFactor = Self.k1 * (1 - Self.b + Self.b * Double(lengths[Int(doc)]) / averageLength)
            var score = 0.0
            for (m, idf) in weighted {
                let f = Double(m.frequency(of: doc))
                if f > 0 { score += idf * (f * (Self.k1 + 1)) / (f + lengthFactor) }
            }
            top.offer(RankedDocument(docID: doc, score: -score))
        }
        return SearchPage(hits: Array(top.sorted().dropFirst(offset)), total: total)
    }

    private func evaluate(_ node: SearchQuery.Node, _ matches: [SearchQuery.Phrase: PhraseMatches]) -> [UInt32] {
        switch node {
        case .phrase(let p): return matches[p]!.docs
        case .and(let nodes):
            var result = evaluate(nodes[0], matches)
            for node in nodes.dropFirst() where !result.isEmpty { result = Self.intersect(result, evaluate(node, matches)) }
            return result
        case .or(let nodes):
            return nodes.dropFirst().reduce(evaluate(nodes[0], matches)) { Self.union($0, evaluate($1, matches)) }
        case .not(let a, let b):
            let exclude = evaluate(b, matches)
            return evaluate(a, matches).filter { !Self.contains(exclude, $0) }
        }
    }

    /// Live documents holding `term`, with its frequency.
    private func postingsOf(termID id: Int) -> PhraseMatches {
        var out = PhraseMatches()
        var cursor = PostingList.Cursor(postings[id])
        while cursor.advance() {
            guard lengths[Int(cursor.doc)] != Self.absent else { continue }
            out.docs.append(cursor.doc)
            out.frequencies.append(cursor.frequency)
        }
        return out
    }

    /// Term ids a query word stands for: itself, or every indexed term it begins (prefix).
    /// A prefix looks at every term of the vocabulary (see docs/PERFORMANCE.md).
    private func termIDs(for term: String, prefix: Bool) -> [Int] {
        guard prefix else { return termIDs[term].map { [$0] } ?? [] }
        let wanted = Array(term.utf8)
        return termIDs.compactMap { key, id in key.utf8.starts(with: wanted) && postings[id].live > 0 ? id : nil }
    }

    private func matches(_ phrase: SearchQuery.Phrase, _ texts: DocumentTexts) -> PhraseMatches {
        if phrase.terms.count == 1 && phrase.column == nil {
            let ids = termIDs(for: phrase.terms[0], prefix: phrase.prefix)
            if ids.count == 1 { return postingsOf(termID: ids[0]) }
            var merged: [UInt32: UInt32] = [:]
            for id in ids {
                let m = postingsOf(termID: id)
                for (doc, f) in zip(m.docs, m.frequencies) { merged[doc, default: 0] += f }
            }
            var out = PhraseMatches()
            for doc in merged.keys.sorted() {
                out.docs.append(doc)
                out.frequencies.append(merged[doc]!)
            }
            return out
        }
        // Candidates hold every word (any term of the prefix); then count in the text.
        var candidates: [UInt32]?
        for (i, term) in phrase.terms.enumerated() {
            let ids = termIDs(for: term, prefix: phrase.prefix && i == phrase.terms.count - 1)
            let docs = ids.map { postingsOf(termID: $0).docs }.reduce([UInt32]()) { Self.union($0, $1) }
            candidates = candidates.map { Self.intersect($0, docs) } ?? docs
            if candidates!.isEmpty { return PhraseMatches() }
        }
        var out = PhraseMatches()
        for doc in candidates ?? [] {
            let columns = texts.columns(doc)
            var count: UInt32 = 0
            for (index, tokens) in columns.enumerated() where phrase.column == nil || phrase.column == index {
                count += Self.occurrences(of: phrase, in: tokens)
            }
            if count > 0 {
                out.docs.append(doc)
                out.frequencies.append(count)
            }
        }
        return out
    }

    /// Occurrences of the phrase's words in a row, within one column's tokens.
    static func occurrences(of phrase: SearchQuery.Phrase, in tokens: [String]) -> UInt32 {
        let k = phrase.terms.count
        guard tokens.count >= k else { return 0 }
        var count: UInt32 = 0
        let last = Array(phrase.terms[k - 1].utf8)
        for start in 0...(tokens.count - k) {
            var ok = true
            for j in 0..<k {
                let token = tokens[start + j]
                if j == k - 1 && phrase.prefix {
                    if !token.utf8.starts(with: last) { ok = false; break }
                } else if token != phrase.terms[j] {
                    ok = false
                    break
                }
            }
            if ok { count += 1 }
        }
        return count
    }

    static func intersect(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] < b[j] { i += 1 } else if a[i] > b[j] { j += 1 } else { out.append(a[i]); i += 1; j += 1 }
        }
        return out
    }

    static func union(_ a: [UInt32], _ b: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i] < b[j]) { out.append(a[i]); i += 1 }
            else if i == a.count || b[j] < a[i] { out.append(b[j]); j += 1 }
            else { out.append(a[i]); i += 1; j += 1 }
        }
        return out
    }

    static func contains(_ sorted: [UInt32], _ doc: UInt32) -> Bool {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            if sorted[mid] < doc { low = mid + 1 } else { high = mid }
        }
        return low < sorted.count && sorted[low] == doc
    }
}
