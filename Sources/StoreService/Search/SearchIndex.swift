import Foundation

/// A document as the index ranks it: FTS5's `bm25()` value (negative; lower is better) for a document.
public struct RankedDocument: Sendable, Equatable {
    public var docID: UInt32
    public var score: Double
}

/// One page of a ranked search: the hits after skipping `offset`, and how many documents
/// matched in all (before `offset` and `limit`).
public struct SearchPage: Sendable, Equatable {
    public var hits: [RankedDocument]
    public var total: Int

    public static let empty = SearchPage(hits: [], total: 0)
}

/// Inverted index over the four searchable columns (film, subject, reading, source) with
/// ranking identical to SQLite FTS5's `bm25()` at equal column weights:
///
///     idf(t)  = ln((N - n(t) + 0.5) / (n(t) + 0.5)), or 1e-6 when that is <= 0
///     score   = -Σ_phrases idf · f·(k1+1) / (f + k1·(1 - b + b·|D|/avgdl)),  k1 = 1.2, b = 0.75
///
/// where N is the number of documents, n(t) those containing t, f the occurrences of t in the
/// document (all columns), |D| the document's token count and avgdl the mean over all documents.
/// Every query term must occur (FTS5's implicit AND); a repeated term counts once per repetition.
///
/// Doc ids only grow: a replaced document is removed and re-added under a new id, so every
/// posting list stays sorted, delta-encodes well (`PostingList`) and intersections can skip.
/// Postings of removed documents stay in their lists (skipped via `lengths`) until the list is
/// rebuilt once they dominate it.
public struct SearchIndex: Sendable {
    static let k1 = 1.2
    static let b = 0.75
    /// `lengths` value of a doc id that is not in the index.
    static let absent = UInt32.max

    var termIDs: [String: Int] = [:]
    /// Term by id (the inverse of `termIDs`).
    var terms: [String] = []
    var postings: [PostingList] = []
    /// Per doc id: its token count, or `absent`.
    var lengths: [UInt32] = []
    var totalTokens = 0
    public internal(set) var documentCount = 0
    /// "Did you mean" over this vocabulary (a sorted copy, shared by copies of the index).
    let suggester = TermSuggester()

    public init() {}

    /// The terms the index holds for a text, and a query looks up: unicode61's words, each
    /// stemmed as FTS5's `porter` tokenizer does (`tokenize='porter unicode61 remove_diacritics
    /// 1'`), so "overdose" finds "overdosed". Only stems are indexed, as in such an FTS5 table.
    public static func terms(_ text: String) -> [String] {
        Unicode61Tokenizer.terms(text).map(PorterStemmer.stem)
    }

    public typealias AnalyzedDocument = AnalyzedTerms<String>

    /// Adds a document under a new doc id, greater than every id added before.
    public mutating func upsert(docID: UInt32, fields: [String]) {
        upsert(docID: docID, analyzed: AnalyzedDocument(fields: fields))
    }

    public mutating func upsert(docID: UInt32, analyzed: AnalyzedDocument) {
        insert(docID: docID, analyzed, termIDs: analyzed.terms.map { termID($0) })
    }

    /// The id of `term`, registering it when new.
    mutating func termID(_ term: String) -> Int {
        if let existing = termIDs[term] { return existing }
        termIDs[term] = postings.count
        terms.append(term)
        postings.append(PostingList())
        return postings.count - 1
    }

    /// Adds an analyzed document; `ids` are its terms' registered ids, in the order of `document.terms`.
    mutating func insert<Term>(docID: UInt32, _ document: AnalyzedTerms<Term>, termIDs ids: [Int]) {
        let index = Int(docID)
        precondition(index >= lengths.count || lengths[index] == Self.absent, "doc id already indexed")
        if lengths.count <= index { lengths.append(contentsOf: repeatElement(Self.absent, count: index - lengths.count + 1)) }
        lengths[index] = UInt32(document.length)
        for (i, id) in ids.enumerated() {
            postings[id].append(docID, positions: document.positions(ofTermAt: i), length: UInt32(document.length))
        }
        totalTokens += document.length
        documentCount += 1
    }

    /// Trims every posting list to its size (appending leaves spare capacity); after a bulk load.
    mutating func trimCapacity() {
        for i in postings.indices { postings[i] = postings[i].trimmed() }
    }

    /// Removes a document; `fields` must be what it was added with (the index keeps no per-doc
    /// term lists, which would cost as much memory as the postings themselves).
    public mutating func remove(docID: UInt32, fields: [String]) {
        remove(docID: docID, analyzed: AnalyzedDocument(fields: fields))
    }

    /// Removes a document; `analyzed` must be what it was added with.
    public mutating func remove(docID: UInt32, analyzed: AnalyzedDocument) {
        let index = Int(docID)
        guard index < lengths.count, lengths[index] != Self.absent else { return }
        totalTokens -= Int(lengths[index])
        lengths[index] = Self.absent
        documentCount -= 1
        for term in analyzed.terms {
            guard let id = termIDs[term] else { continue }
            postings[id].live -= 1
            // Rebuild a list once dead entries outnumber live ones, so scans stay proportional.
            if postings[id].count > 32 && postings[id].live * 2 < postings[id].count {
                postings[id] = postings[id].keeping { doc in lengths[Int(doc)] == Self.absent ? nil : lengths[Int(doc)] }
            }
        }
    }

    /// The best `limit` documents for `query` among those `include` accepts (nil: every one),
    /// best first; ties go to the lower doc id (FTS5: `ORDER BY bm25(t), rowid`).
    public func search(_ query: String, limit: Int, where include: ((UInt32) -> Bool)? = nil) -> [RankedDocument] {
        search(query, limit: limit, offset: 0, where: include).hits
    }

    /// The page of hits `offset ..< offset + limit` in rank order, with the number of all matches
    /// `include` accepts (nil: every one).
    public func search(_ query: String, limit: Int, offset: Int, where include: ((UInt32) -> Bool)? = nil) -> SearchPage {
        search(terms: Self.terms(query), limit: limit, offset: offset, where: include)
    }

    /// Documents holding every one of `queryTerms` (already tokenized), through the posting
    /// lists alone: the smallest list drives, the others skip to its documents. Every match is
    /// counted, but only scored when the bound of its blocks (`PostingList.Skip`) could enter
    /// the page; a single term with no filter has n(t) matches and skips whole blocks.
    func search(terms queryTerms: [String], limit: Int, offset: Int, where include: ((UInt32) -> Bool)?) -> SearchPage {
        guard limit > 0, offset >= 0, !queryTerms.isEmpty, documentCount > 0 else { return .empty }
        var ids: [Int] = []
        for term in queryTerms {
            guard let id = termIDs[term], postings[id].live > 0 else { return .empty }
            ids.append(id)
        }
        var distinct: [Int] = []
        for id in ids where !distinct.contains(id) { distinct.append(id) }
        distinct.sort { postings[$0].count < postings[$1].count }
        let scorer = BM25(index: self, termIDs: ids, distinct: distinct)
        if distinct.count == 1 && include == nil { return bestBlocksFirst(postings[distinct[0]], scorer, limit: limit, offset: offset) }
        var cursors = distinct.map { PostingList.Cursor(postings[$0]) }
        var frequencies = [Double](repeating: 0, count: distinct.count)
        // Each cursor's block, and that block's bound (valid while the cursor stays in it).
        var blocks = [Int](repeating: -1, count: distinct.count)
        var bounds = [Double](repeating: 0, count: distinct.count)
        var top = TopHits(limit: offset + limit)
        var total = 0
        var target: UInt32 = 0
        candidates: while cursors[0].seek(target) {
            let doc = cursors[0].doc
            target = doc + 1
            let length = lengths[Int(doc)]
            guard length != Self.absent else { continue }
            frequencies[0] = Double(cursors[0].frequency)
            for k in cursors.indices.dropFirst() {
                guard cursors[k].seek(doc) else { break candidates }
                guard cursors[k].doc == doc else {
                    target = cursors[k].doc  // nothing before it holds every term
                    continue candidates
                }
                frequencies[k] = Double(cursors[k].frequency)
            }
            guard include?(doc) ?? true else { continue }
            total += 1
            if let least = top.leastScoreToEnter {
                var bound = 0.0
                for k in cursors.indices {
                    if blocks[k] != cursors[k].block {
                        blocks[k] = cursors[k].block
                        bounds[k] = scorer.bound(distinct: k, postings[distinct[k]].skips[blocks[k]])
                    }
                    bound += bounds[k]
                }
                guard BM25.mayReach(least, bound: bound) else { continue }
            }
            top.offer(RankedDocument(docID: doc, score: -scorer.score(frequencies: frequencies, length: length)))
        }
        return SearchPage(hits: Array(top.sorted().dropFirst(offset)), total: total)
    }

    /// One term, no filter: n(t) documents match, and the page is found by decoding blocks in
    /// the order of their bound, best first, until the next block's bound can't enter it.
    private func bestBlocksFirst(_ list: PostingList, _ scorer: BM25, limit: Int, offset: Int) -> SearchPage {
        var order = BlockOrder(list.skips.map { scorer.bound(distinct: 0, $0) })
        var top = TopHits(limit: offset + limit)
        var cursor = PostingList.Cursor(list)
        var frequency = [0.0]
        while let (block, bound) = order.next() {
            if let least = top.leastScoreToEnter, !BM25.mayReach(least, bound: bound) { break }
            cursor.jump(toBlock: block)
            while cursor.advance() {
                let length = lengths[Int(cursor.doc)]
                if length != Self.absent {
                    frequency[0] = Double(cursor.frequency)
                    top.offer(RankedDocument(docID: cursor.doc, score: -scorer.score(frequencies: frequency, length: length)))
                }
                if cursor.atBlockEnd { break }
            }
        }
        return SearchPage(hits: Array(top.sorted().dropFirst(offset)), total: list.live)
    }
}
