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
    }

    /// The page of `query`'s hits, ranked as FTS5's `bm25()` ranks that query. The query's tree
    /// is walked with cursors (`MatchCursor`): words from their posting lists with seeks, a
    /// prefix word from a bit set of its documents, a phrase from its matches; each match is
    /// then scored from every phrase's frequency in it.
    public func search(_ query: SearchQuery, limit: Int, offset: Int, where include: ((UInt32) -> Bool)? = nil) -> SearchPage {
        if let terms = query.plainTerms { return search(terms: terms, limit: limit, offset: offset, where: include) }
        guard limit > 0, offset >= 0, let root = query.root, documentCount > 0 else { return .empty }
        let phrases = query.phrases
        // What a phrase matches is found once (a prefix's bit set, a phrase's positions) and
        // read by a cursor per use: the tree's and the scorer's move independently.
        var sources: [SearchQuery.Phrase: MatchSource] = [:]
        for phrase in phrases where sources[phrase] == nil { sources[phrase] = source(for: phrase) }
        let tree = cursor(for: root, sources)
        let scoring = phrases.map { sources[$0]!.cursor(in: self) }
        let idfs = phrases.map { BM25.idf(matching: sources[$0]!.documents, of: documentCount) }
        let averageLength = Double(totalTokens) / Double(documentCount)
        var top = TopHits(limit: offset + limit)
        var total = 0
        var target: UInt32 = 0
        while case let doc = tree.seek(target), doc != MatchCursor.end {
            target = doc + 1
            guard include?(doc) ?? true else { continue }
            total += 1
            let lengthFactor = BM25.lengthFactor(lengths[Int(doc)], averageLength: averageLength)
            var score = 0.0
            for (cursor, idf) in zip(scoring, idfs) {
                let f = Double(cursor.frequency(at: doc))
                if f > 0 { score += BM25.term(idf: idf, frequency: f, lengthFactor: lengthFactor) }
            }
            top.offer(RankedDocument(docID: doc, score: -score))
        }
        return SearchPage(hits: Array(top.sorted().dropFirst(offset)), total: total)
    }

    /// Where a phrase's documents come from: a word's posting list, a prefix word's bit set, or
    /// the matches of a phrase of several words (or of one column), found from positions.
    private func source(for phrase: SearchQuery.Phrase) -> MatchSource {
        if phrase.terms.count == 1 && phrase.column == nil {
            let ids = termIDs(for: phrase.terms[0], prefix: phrase.prefix)
            if ids.isEmpty { return .matches(PhraseMatches()) }
            if ids.count == 1 { return .term(ids[0], documents: postings[ids[0]].live) }
            return .prefix(PrefixDocuments(ids, in: self))
        }
        return .matches(matches(phrase))
    }

    private func cursor(for node: SearchQuery.Node, _ sources: [SearchQuery.Phrase: MatchSource]) -> MatchCursor {
        switch node {
        case .phrase(let p): return sources[p]!.cursor(in: self)
        case .and(let nodes): return AndCursor(nodes.map { cursor(for: $0, sources) })
        case .or(let nodes): return OrCursor(nodes.map { cursor(for: $0, sources) })
        case .not(let a, let b): return NotCursor(cursor(for: a, sources), excluding: cursor(for: b, sources))
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

    /// Term ids a query word stands for: itself, or every indexed term it begins (prefix, a
    /// range of the sorted vocabulary).
    private func termIDs(for term: String, prefix: Bool) -> [Int] {
        guard prefix else { return termIDs[term].map { [$0] } ?? [] }
        return suggester.terms(withPrefix: term, in: self).filter { postings[$0].live > 0 }
    }

    /// The documents where a phrase of several words (or one word within a column) occurs.
    private func matches(_ phrase: SearchQuery.Phrase) -> PhraseMatches {
        let words = phrase.terms.indices.map { i in termIDs(for: phrase.terms[i], prefix: phrase.prefix && i == phrase.terms.count - 1) }
        guard words.allSatisfy({ !$0.isEmpty }) else { return PhraseMatches() }
        if words.allSatisfy({ $0.count == 1 }) { return matches(words.map { $0[0] }, column: phrase.column) }
        // Candidates are the rarest word's documents (any term of a prefix), read from its
        // cursor; one holding every word is counted from its words' positions.
        let order = words.indices.sorted { words[$0].reduce(0) { $0 + postings[$1].count } < words[$1].reduce(0) { $0 + postings[$1].count } }
        var cursors = words.map { $0.map { PostingList.Cursor(postings[$0], readingPositions: true) } }
        let drives = words[order[0]].count == 1
        let prefixCandidates = drives ? [] : words[order[0]].map { postingsOf(termID: $0).docs }.reduce([UInt32]()) { Self.union($0, $1) }
        var nextCandidate = 0
        var holding = words.map { [Bool](repeating: false, count: $0.count) }
        var positions = [[UInt32]](repeating: [], count: words.count)
        var out = PhraseMatches()
        candidates: while true {
            let doc: UInt32
            if drives {
                guard cursors[order[0]][0].advance() else { break }
                doc = cursors[order[0]][0].doc
                guard lengths[Int(doc)] != Self.absent else { continue }
            } else {
                guard nextCandidate < prefixCandidates.count else { break }
                doc = prefixCandidates[nextCandidate]
                nextCandidate += 1
            }
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

    /// The documents where the words `ids` occur in this order (within `column` when given): the
    /// rarest word's cursor proposes, the others seek to it, and a document all of them hold
    /// has its positions decoded and counted. A word that skips past the proposal moves the
    /// proposal to where it landed.
    private func matches(_ ids: [Int], column: Int?) -> PhraseMatches {
        let order = ids.indices.sorted { postings[ids[$0]].count < postings[ids[$1]].count }
        let driver = order[0], others = Array(order.dropFirst())
        var cursors = ids.map { PostingList.Cursor(postings[$0], readingPositions: true) }
        var positions = [[UInt32]](repeating: [], count: ids.count)
        var next = [Int](repeating: 0, count: ids.count)
        var out = PhraseMatches()
        var target: UInt32 = 0
        candidates: while cursors[driver].seek(target) {
            let doc = cursors[driver].doc
            target = doc + 1
            guard lengths[Int(doc)] != Self.absent else { continue }
            for w in others {
                guard cursors[w].seek(doc) else { break candidates }
                guard cursors[w].doc == doc else {
                    target = cursors[w].doc
                    continue candidates
                }
            }
            for w in ids.indices {
                positions[w].removeAll(keepingCapacity: true)
                cursors[w].appendPositions(to: &positions[w])
            }
            let count = Self.occurrences(of: positions, column: column, next: &next)
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
        return occurrences(of: positions, column: column, next: &next)
    }

    /// The same, with `next` (one slot per word) as scratch space, so a loop over candidates
    /// allocates nothing.
    static func occurrences(of positions: [[UInt32]], column: Int?, next: inout [Int]) -> UInt32 {
        for j in next.indices { next[j] = 0 }
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
}
