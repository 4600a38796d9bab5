import Foundation

/// Evaluating a `SearchQuery` with phrases, prefixes, OR, NOT and column filters.
///
/// A phrase of several words, or any column-filtered phrase, is matched from the positions in
/// the posting lists (`PostingList.Cursor.appendPositions`): its candidates are the documents
/// holding all its words, and in each the phrase occurs where word j is at the first word's
/// position + j, in one column (a position's column is in its top bits). Only these queries read
/// the positions stream. Ranking stays FTS5's: bm25 sums over every phrase of the query, with
/// each phrase's idf from the number of documents matching it (over the whole index, as FTS5's
/// xQueryPhrase counts) and its frequency its occurrences in the document.
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

    /// The page of `query`'s hits, ranked as FTS5's `bm25()` ranks that query.
    public func search(_ query: SearchQuery, limit: Int, offset: Int, where include: (UInt32) -> Bool = { _ in true }) -> SearchPage {
        if let terms = query.plainTerms { return search(terms: terms, limit: limit, offset: offset, where: include) }
        guard limit > 0, offset >= 0, let root = query.root, documentCount > 0 else { return .empty }
        let phrases = query.phrases
        var matchesByPhrase: [SearchQuery.Phrase: PhraseMatches] = [:]
        for phrase in phrases where matchesByPhrase[phrase] == nil { matchesByPhrase[phrase] = matches(phrase) }
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

    /// Live documents holding any of the terms, with their occurrences summed (a prefix word).
    /// Many postings are summed into a table by doc id and read back in order; few are sorted.
    private func merged(_ ids: [Int]) -> PhraseMatches {
        var out = PhraseMatches()
        let entries = ids.reduce(0) { $0 + postings[$1].count }
        if entries * 8 >= lengths.count {
            var sums = [UInt32](repeating: 0, count: lengths.count)
            for id in ids {
                var cursor = PostingList.Cursor(postings[id])
                while cursor.advance() { sums[Int(cursor.doc)] += cursor.frequency }
            }
            for (doc, sum) in sums.enumerated() where sum > 0 && lengths[doc] != Self.absent {
                out.docs.append(UInt32(doc))
                out.frequencies.append(sum)
            }
            return out
        }
        // (doc, frequency) packed in one integer, so one sort orders them by doc.
        var pairs: [UInt64] = []
        pairs.reserveCapacity(entries)
        for id in ids {
            var cursor = PostingList.Cursor(postings[id])
            while cursor.advance() {
                if lengths[Int(cursor.doc)] != Self.absent { pairs.append(UInt64(cursor.doc) << 32 | UInt64(cursor.frequency)) }
            }
        }
        pairs.sort()
        for pair in pairs {
            let doc = UInt32(truncatingIfNeeded: pair >> 32), f = UInt32(truncatingIfNeeded: pair)
            if out.docs.last == doc { out.frequencies[out.frequencies.count - 1] += f } else {
                out.docs.append(doc)
                out.frequencies.append(f)
            }
        }
        return out
    }

    /// Term ids a query word stands for: itself, or every indexed term it begins (prefix, a
    /// range of the sorted vocabulary).
    private func termIDs(for term: String, prefix: Bool) -> [Int] {
        guard prefix else { return termIDs[term].map { [$0] } ?? [] }
        return suggester.terms(withPrefix: term, in: self).filter { postings[$0].live > 0 }
    }

    private func matches(_ phrase: SearchQuery.Phrase) -> PhraseMatches {
        let words = phrase.terms.indices.map { i in termIDs(for: phrase.terms[i], prefix: phrase.prefix && i == phrase.terms.count - 1) }
        if words.count == 1 && phrase.column == nil {
            let ids = words[0]
            return ids.count == 1 ? postingsOf(termID: ids[0]) : merged(ids)
        }
        guard words.allSatisfy({ !$0.isEmpty }) else { return PhraseMatches() }
        // Candidates are the rarest word's documents (any term of a prefix); one holding every
        // word is counted from its words' positions.
        let order = words.indices.sorted { words[$0].reduce(0) { $0 + postings[$1].count } < words[$1].reduce(0) { $0 + postings[$1].count } }
        let candidates = words[order[0]].count == 1 ? postingsOf(termID: words[order[0]][0]).docs
            : words[order[0]].map { postingsOf(termID: $0).docs }.reduce([UInt32]()) { Self.union($0, $1) }
        var cursors = words.map { $0.map { PostingList.Cursor(postings[$0], readingPositions: true) } }
        var holding = words.map { [Bool](repeating: false, count: $0.count) }
        var positions = [[UInt32]](repeating: [], count: words.count)
        var out = PhraseMatches()
        candidates: for doc in candidates {
            for w in order {
                var any = false
                for c in cursors[w].indices {
                    holding[w][c] = cursors[w][c].seek(doc) && cursors[w][c].doc == doc
                    any = any || holding[w][c]
                }
                guard any else { continue candidates }
            }
            for w in words.indices {
                positions[w].removeAll(keepingCapacity: true)
                for c in cursors[w].indices where holding[w][c] { cursors[w][c].appendPositions(to: &positions[w]) }
                // A prefix's terms are distinct tokens: merging their positions is a sort.
                if cursors[w].count > 1 { positions[w].sort() }
            }
            let count = Self.occurrences(of: positions, column: phrase.column)
            if count > 0 {
                out.docs.append(doc)
                out.frequencies.append(count)
            }
        }
        return out
    }

    /// Places where word j is at the first word's position + j (each word's positions ascending),
    /// within `column` when given.
    static func occurrences(of positions: [[UInt32]], column: Int?) -> UInt32 {
        var next = [Int](repeating: 0, count: positions.count)
        var count: UInt32 = 0
        starts: for start in positions[0] {
            if let column, PostingList.column(of: start) != column { continue }
            for j in positions.indices.dropFirst() {
                let wanted = start + UInt32(j)
                let list = positions[j]
                while next[j] < list.count && list[next[j]] < wanted { next[j] += 1 }
                guard next[j] < list.count else { break starts }
                guard list[next[j]] == wanted else { continue starts }
            }
            count += 1
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
