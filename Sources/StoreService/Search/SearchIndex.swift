import Foundation

/// A ranked hit: FTS5's `bm25()` value (negative; lower is better) for a document.
public struct SearchHit: Sendable, Equatable {
    public var docID: UInt32
    public var score: Double
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
/// posting list stays sorted and intersections can binary-search. Postings of removed documents
/// stay in their lists (skipped via `alive`) until the list is rebuilt once they dominate it.
public struct SearchIndex: Sendable {
    static let k1 = 1.2
    static let b = 0.75

    private struct Postings: Sendable {
        var docs: [UInt32] = []
        var frequencies: [UInt32] = []
        /// Documents in `docs` that are still alive: n(t).
        var live = 0
    }

    private var termIDs: [String: Int] = [:]
    private var postings: [Postings] = []
    /// Per doc id: its token count, or nil when removed / never added.
    private var lengths: [UInt32?] = []
    /// Per doc id: its distinct terms, so removal can update n(t).
    private var docTerms: [UInt32: [Int]] = [:]
    private var totalTokens = 0
    public private(set) var documentCount = 0

    public init() {}

    /// Adds (or replaces) a document. Doc ids must be added in increasing order.
    public mutating func upsert(docID: UInt32, fields: [String]) {
        remove(docID: docID)
        var counts: [Int: UInt32] = [:]
        var length = 0
        for field in fields {
            for term in Unicode61Tokenizer.terms(field) {
                length += 1
                let id: Int
                if let existing = termIDs[term] {
                    id = existing
                } else {
                    id = postings.count
                    termIDs[term] = id
                    postings.append(Postings())
                }
                counts[id, default: 0] += 1
            }
        }
        let index = Int(docID)
        if lengths.count <= index { lengths.append(contentsOf: repeatElement(nil, count: index - lengths.count + 1)) }
        lengths[index] = UInt32(length)
        for (term, frequency) in counts {
            precondition(postings[term].docs.last.map { $0 < docID } ?? true, "doc ids must increase")
            postings[term].docs.append(docID)
            postings[term].frequencies.append(frequency)
            postings[term].live += 1
        }
        docTerms[docID] = Array(counts.keys)
        totalTokens += length
        documentCount += 1
    }

    public mutating func remove(docID: UInt32) {
        let index = Int(docID)
        guard index < lengths.count, let length = lengths[index] else { return }
        lengths[index] = nil
        totalTokens -= Int(length)
        documentCount -= 1
        for term in docTerms.removeValue(forKey: docID) ?? [] {
            postings[term].live -= 1
            // Rebuild a list once dead entries outnumber live ones, so scans stay proportional.
            if postings[term].docs.count > 32 && postings[term].live * 2 < postings[term].docs.count {
                purge(term)
            }
        }
    }

    private mutating func purge(_ term: Int) {
        var kept = Postings()
        let old = postings[term]
        for (i, doc) in old.docs.enumerated() where lengths[Int(doc)] != nil {
            kept.docs.append(doc)
            kept.frequencies.append(old.frequencies[i])
        }
        kept.live = kept.docs.count
        postings[term] = kept
    }

    /// The best `limit` documents for `query` among those `include` accepts, best first; ties go
    /// to the lower doc id (FTS5: `ORDER BY bm25(t), rowid`).
    public func search(_ query: String, limit: Int, where include: (UInt32) -> Bool = { _ in true }) -> [SearchHit] {
        let queryTerms = Unicode61Tokenizer.terms(query)
        guard limit > 0, !queryTerms.isEmpty, documentCount > 0 else { return [] }
        var ids: [Int] = []
        for term in queryTerms {
            guard let id = termIDs[term], postings[id].live > 0 else { return [] }
            ids.append(id)
        }
        let n = Double(documentCount)
        let averageLength = Double(totalTokens) / n
        let idfs = ids.map { id -> Double in
            let hits = Double(postings[id].live)
            let idf = log((n - hits + 0.5) / (hits + 0.5))
            return idf <= 0 ? 1e-6 : idf
        }
        let distinct = Array(Set(ids))
        let driver = distinct.min { postings[$0].docs.count < postings[$1].docs.count }!
        let others = distinct.filter { $0 != driver }
        var top = TopHits(limit: limit)
        var cursors = [Int](repeating: 0, count: others.count)
        var frequency: [Int: Double] = [:]
        let driverList = postings[driver]
        candidates: for (position, doc) in driverList.docs.enumerated() {
            guard let length = lengths[Int(doc)] else { continue }
            frequency[driver] = Double(driverList.frequencies[position])
            for (k, other) in others.enumerated() {
                let list = postings[other].docs
                guard let found = Self.seek(list, doc, from: &cursors[k]) else { continue candidates }
                frequency[other] = Double(postings[other].frequencies[found])
            }
            guard include(doc) else { continue }
            let lengthFactor = Self.k1 * (1 - Self.b + Self.b * Double(length) / averageLength)
            var score = 0.0
            for (i, id) in ids.enumerated() {
                let f = frequency[id]!
                score += idfs[i] * (f * (Self.k1 + 1)) / (f + lengthFactor)
            }
            top.offer(SearchHit(docID: doc, score: -score))
        }
        return top.sorted()
    }

    /// Finds `doc` in the sorted `list` at or after `cursor` (galloping), moving the cursor.
    private static func seek(_ list: [UInt32], _ doc: UInt32, from cursor: inout Int) -> Int? {
        var low = cursor
        var step = 1
        var high = cursor
        while high < list.count && list[high] < doc {
            low = high + 1
            high += step
            step *= 2
        }
        high = min(high, list.count - 1)
        while low <= high {
            let mid = (low + high) / 2
            if list[mid] < doc { low = mid + 1 } else if list[mid] > doc { high = mid - 1 } else {
                cursor = mid
                return mid
            }
        }
        cursor = low
        return nil
    }

    /// A short extract of the best field with the query's words in [brackets]: the reading when
    /// it matches, else the first field that does.
    public static func snippet(fields: [String], query: String, maxTokens: Int = 12) -> String {
        let wanted = Set(Unicode61Tokenizer.terms(query))
        var order = Array(fields.indices)
        if fields.count > 2 { order = [2] + order.filter { $0 != 2 } }
        for index in order {
            let text = fields[index]
            let tokens = Unicode61Tokenizer.tokenize(text)
            guard let first = tokens.firstIndex(where: { wanted.contains($0.term) }) else { continue }
            let start = max(0, min(first - 3, tokens.count - maxTokens))
            let end = min(tokens.count, start + maxTokens)
            var out = start > 0 ? "…" : ""
            var cursor = start > 0 ? tokens[start].range.lowerBound : text.unicodeScalars.startIndex
            for token in tokens[start..<end] {
                out += String(text.unicodeScalars[cursor..<token.range.lowerBound])
                let word = String(text.unicodeScalars[token.range])
                out += wanted.contains(token.term) ? "[\(word)]" : word
                cursor = token.range.upperBound
            }
            if end < tokens.count {
                out += "…"
            } else {
                out += String(text.unicodeScalars[cursor...])
            }
            return out.replacingOccurrences(of: "\n", with: " ")
        }
        return ""
    }
}

/// Keeps the `limit` best hits seen (lowest score, then lowest doc id) in a binary heap whose
/// root is the worst of them.
struct TopHits {
    let limit: Int
    private var heap: [SearchHit] = []

    init(limit: Int) { self.limit = limit }

    private static func worse(_ a: SearchHit, _ b: SearchHit) -> Bool {
        a.score != b.score ? a.score > b.score : a.docID > b.docID
    }

    mutating func offer(_ hit: SearchHit) {
        if heap.count < limit {
            heap.append(hit)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard Self.worse(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        } else if Self.worse(heap[0], hit) {
            heap[0] = hit
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var worst = parent
                if left < heap.count && Self.worse(heap[left], heap[worst]) { worst = left }
                if right < heap.count && Self.worse(heap[right], heap[worst]) { worst = right }
                if worst == parent { break }
                heap.swapAt(parent, worst)
                parent = worst
            }
        }
    }

    func sorted() -> [SearchHit] {
        heap.sorted { Self.worse($1, $0) }
    }
}
