import Foundation

/// FTS5's bm25 for a query of plain terms (see `SearchIndex`): a document's score, and an upper
/// bound on the score of every document in a posting-list block, from the block's highest
/// frequency and shortest document (`PostingList.Skip`).
struct BM25 {
    /// Per query term, in query order (a repeated term counts once per repetition).
    let idfs: [Double]
    /// Per query term: its index among the distinct terms (the frequencies' order).
    let slots: [Int]
    /// Per distinct term: the sum of its query terms' idfs.
    let weights: [Double]
    let averageLength: Double

    /// `ids`: the query's term ids in query order; `distinct`: each id once, in the order the
    /// frequencies will be given.
    init(index: SearchIndex, termIDs ids: [Int], distinct: [Int]) {
        let n = index.documentCount
        averageLength = Double(index.totalTokens) / Double(n)
        idfs = ids.map { Self.idf(matching: index.postings[$0].live, of: n) }
        slots = ids.map { id in distinct.firstIndex(of: id)! }
        var weights = [Double](repeating: 0, count: distinct.count)
        for (i, slot) in slots.enumerated() { weights[slot] += idfs[i] }
        self.weights = weights
    }

    /// FTS5's idf of a phrase matching `hits` of `n` documents (never below 1e-6).
    static func idf(matching hits: Int, of n: Int) -> Double {
        let idf = log((Double(n) - Double(hits) + 0.5) / (Double(hits) + 0.5))
        return idf <= 0 ? 1e-6 : idf
    }

    /// k1·(1 − b + b·|D|/avgdl): the length's part of the denominator.
    @inline(__always)
    func lengthFactor(_ length: UInt32) -> Double { Self.lengthFactor(length, averageLength: averageLength) }

    @inline(__always)
    static func lengthFactor(_ length: UInt32, averageLength: Double) -> Double {
        SearchIndex.k1 * (1 - SearchIndex.b + SearchIndex.b * Double(length) / averageLength)
    }

    /// One phrase's part of a document's score: idf · f·(k1+1) / (f + lengthFactor).
    @inline(__always)
    static func term(idf: Double, frequency f: Double, lengthFactor: Double) -> Double {
        idf * (f * (SearchIndex.k1 + 1)) / (f + lengthFactor)
    }

    /// The document's score (positive: higher is better), from its frequency of each distinct term.
    func score(frequencies: [Double], length: UInt32) -> Double {
        let lengthFactor = lengthFactor(length)
        var score = 0.0
        for (i, slot) in slots.enumerated() {
            score += Self.term(idf: idfs[i], frequency: frequencies[slot], lengthFactor: lengthFactor)
        }
        return score
    }

    /// No document of the block scores more than this for distinct term `k`: bm25's term part
    /// grows with the frequency and shrinks with the length.
    func bound(distinct k: Int, _ block: PostingList.Skip) -> Double {
        let f = Double(block.maxFrequency)
        return weights[k] * (f * (SearchIndex.k1 + 1)) / (f + lengthFactor(block.minLength))
    }

    /// Whether a document scoring at most `bound` may enter a page whose entry needs `least`.
    /// The margin covers rounding: the bound is summed in another order than the score.
    @inline(__always)
    static func mayReach(_ least: Double, bound: Double) -> Bool { bound * (1 + 1e-9) >= least }
}

/// A posting list's blocks, highest bound first (a max-heap built in linear time, popped only
/// as far as the page needs). A bound is kept as the next Float up, never below the exact one.
struct BlockOrder {
    private var heap: [UInt64]

    init(_ bounds: [Double]) {
        heap = bounds.enumerated().map { UInt64(Float($1).nextUp.bitPattern) << 32 | UInt64($0) }
        // Positive floats order as their bit patterns, so the keys order as the bounds.
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    /// The block with the highest remaining bound, and that bound.
    mutating func next() -> (block: Int, bound: Double)? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return (Int(truncatingIfNeeded: first & 0xFFFF_FFFF), Double(Float(bitPattern: UInt32(first >> 32))))
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var largest = parent
            if left < heap.count && heap[left] > heap[largest] { largest = left }
            if right < heap.count && heap[right] > heap[largest] { largest = right }
            if largest == parent { return }
            heap.swapAt(parent, largest)
            parent = largest
        }
    }
}
