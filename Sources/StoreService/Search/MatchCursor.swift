/// One node of a query's evaluation, walked in increasing doc id order without building lists:
/// `seek(target)` moves to the first matching document at or after `target` (staying put when
/// already there) and returns it, or `end` when there is none. Leaves (one per phrase of the
/// query) also tell a document's frequency of their phrase, for scoring.
///
/// Every seek's target is at most the document the root returns next, so a leaf asked for the
/// frequency at that document has not moved past it.
///
/// The cursors' state is `@exclusivity(unchecked)`: a cursor is used by one query on one thread
/// and no method re-enters its own object, and the runtime's access checks on these class
/// properties were a third of a prefix query's ranking time.
class MatchCursor {
    static let end = UInt32.max

    /// The current match (`end` once exhausted); meaningful once `started`.
    @exclusivity(unchecked) fileprivate(set) var doc: UInt32 = 0
    @exclusivity(unchecked) fileprivate var started = false
    /// About how many documents it matches, so the rarest side of a conjunction drives.
    let cost: Int

    init(cost: Int) { self.cost = cost }

    func seek(_ target: UInt32) -> UInt32 { preconditionFailure("abstract") }

    /// The leaf's phrase's occurrences in `doc` (0 when it does not match it).
    func frequency(at doc: UInt32) -> UInt32 { preconditionFailure("not a leaf") }

    /// Whether `seek(target)` can answer without moving (the common case in OR and NOT).
    fileprivate func settled(_ target: UInt32) -> Bool {
        if started && doc >= target { return true }
        started = true
        return false
    }
}

/// Where a phrase's documents come from, found once per query and read by as many cursors as
/// the phrase has uses.
enum MatchSource {
    /// A word: its posting list (`documents` = n(t)).
    case term(Int, documents: Int)
    /// A prefix word standing for several terms.
    case prefix(PrefixDocuments)
    /// A phrase of several words, or within a column, matched from positions.
    case matches(SearchIndex.PhraseMatches)

    /// Documents matching the phrase (its idf's n).
    var documents: Int {
        switch self {
        case .term(_, let documents): return documents
        case .prefix(let p): return p.documents
        case .matches(let m): return m.docs.count
        }
    }

    func cursor(in index: SearchIndex) -> MatchCursor {
        switch self {
        case .term(let id, let documents): return TermCursor(index.postings[id], lengths: index.lengths, cost: documents)
        case .prefix(let p): return PrefixCursor(p, in: index)
        case .matches(let m): return PhraseMatchesCursor(m)
        }
    }
}

/// A word's live documents, from its posting list with skips.
final class TermCursor: MatchCursor {
    @exclusivity(unchecked) private var cursor: PostingList.Cursor
    private let lengths: [UInt32]

    init(_ list: PostingList, lengths: [UInt32], cost: Int) {
        cursor = PostingList.Cursor(list)
        self.lengths = lengths
        super.init(cost: cost)
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        guard cursor.seek(target) else { doc = Self.end; return doc }
        while lengths[Int(cursor.doc)] == SearchIndex.absent {
            guard cursor.advance() else { doc = Self.end; return doc }
        }
        doc = cursor.doc
        return doc
    }

    override func frequency(at doc: UInt32) -> UInt32 { seek(doc) == doc ? cursor.frequency : 0 }
}

/// The live documents holding any term of a prefix word, as one bit per doc id: built in one
/// pass over the terms' postings, it gives FTS5's n for the prefix (the documents, not the
/// postings) and seeks by scanning words of bits.
struct PrefixDocuments {
    let ids: [Int]
    let bits: [UInt64]
    let documents: Int

    init(_ ids: [Int], in index: SearchIndex) {
        var bits = [UInt64](repeating: 0, count: (index.lengths.count + 63) / 64)
        for id in ids {
            var cursor = PostingList.Cursor(index.postings[id])
            while cursor.advance() {
                let doc = Int(cursor.doc)
                if index.lengths[doc] != SearchIndex.absent { bits[doc >> 6] |= 1 << UInt64(doc & 63) }
            }
        }
        self.ids = ids
        self.bits = bits
        documents = bits.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}

/// A prefix word: matches from `PrefixDocuments`; a frequency is the sum over its terms, read
/// from their cursors kept in a heap by current doc, so each posting is passed once in all.
final class PrefixCursor: MatchCursor {
    private let bits: [UInt64]
    @exclusivity(unchecked) private var terms: [PostingList.Cursor]
    /// Per term cursor its doc (`end` when exhausted); `heap` orders their indices by it.
    @exclusivity(unchecked) private var docs: [UInt32]
    @exclusivity(unchecked) private var heap: [Int]
    @exclusivity(unchecked) private var frequencyDoc = MatchCursor.end
    @exclusivity(unchecked) private var frequencyAtDoc: UInt32 = 0

    init(_ prefix: PrefixDocuments, in index: SearchIndex) {
        bits = prefix.bits
        var terms = prefix.ids.map { PostingList.Cursor(index.postings[$0]) }
        let docs = terms.indices.map { terms[$0].advance() ? terms[$0].doc : MatchCursor.end }
        self.terms = terms
        self.docs = docs
        heap = terms.indices.sorted { docs[$0] < docs[$1] }  // a sorted array is a heap
        super.init(cost: prefix.documents)
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        var word = Int(target >> 6)
        guard word < bits.count else { doc = Self.end; return doc }
        var remaining = bits[word] & (~0 << UInt64(target & 63))
        while remaining == 0 {
            word += 1
            guard word < bits.count else { doc = Self.end; return doc }
            remaining = bits[word]
        }
        doc = UInt32(word << 6 | remaining.trailingZeroBitCount)
        return doc
    }

    override func frequency(at doc: UInt32) -> UInt32 {
        if doc == frequencyDoc { return frequencyAtDoc }
        guard seek(doc) == doc else { return 0 }
        var sum: UInt32 = 0
        while let first = heap.first, docs[first] <= doc {
            if docs[first] == doc {
                sum += terms[first].frequency
                docs[first] = terms[first].advance() ? terms[first].doc : Self.end
            } else {
                docs[first] = terms[first].seek(doc) ? terms[first].doc : Self.end
            }
            siftDown()
        }
        frequencyDoc = doc
        frequencyAtDoc = sum
        return sum
    }

    /// Restores the heap after its first cursor moved forward.
    private func siftDown() {
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var least = parent
            if left < heap.count && docs[heap[left]] < docs[heap[least]] { least = left }
            if right < heap.count && docs[heap[right]] < docs[heap[least]] { least = right }
            if least == parent { return }
            heap.swapAt(parent, least)
            parent = least
        }
    }
}

/// A phrase's matches (found from positions), read with a galloping search.
final class PhraseMatchesCursor: MatchCursor {
    private let matches: SearchIndex.PhraseMatches
    @exclusivity(unchecked) private var index = 0

    init(_ matches: SearchIndex.PhraseMatches) {
        self.matches = matches
        super.init(cost: matches.docs.count)
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        let docs = matches.docs
        var step = 1
        var high = index
        while high < docs.count && docs[high] < target {
            index = high + 1
            high += step
            step *= 2
        }
        high = min(high, docs.count)
        while index < high {
            let mid = (index + high) / 2
            if docs[mid] < target { index = mid + 1 } else { high = mid }
        }
        doc = index < docs.count ? docs[index] : Self.end
        return doc
    }

    override func frequency(at doc: UInt32) -> UInt32 { seek(doc) == doc ? matches.frequencies[index] : 0 }
}

/// Documents every child matches: the rarest child proposes, the others seek to it in turn
/// until all agree (leapfrog).
final class AndCursor: MatchCursor {
    private let children: [MatchCursor]

    init(_ children: [MatchCursor]) {
        self.children = children.sorted { $0.cost < $1.cost }
        super.init(cost: self.children[0].cost)
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        var candidate = children[0].seek(target)
        var agreeing = 1, next = 1 % children.count
        while candidate != Self.end && agreeing < children.count {
            let found = children[next].seek(candidate)
            if found == candidate { agreeing += 1 } else { candidate = found; agreeing = 1 }
            next = (next + 1) % children.count
        }
        doc = candidate
        return doc
    }
}

/// Documents any child matches.
final class OrCursor: MatchCursor {
    private let children: [MatchCursor]

    init(_ children: [MatchCursor]) {
        self.children = children
        super.init(cost: children.reduce(0) { $0 + $1.cost })
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        doc = children.reduce(Self.end) { min($0, $1.seek(target)) }
        return doc
    }
}

/// Documents the first matches and the second does not: the excluded cursor is only sought to
/// the included one's documents.
final class NotCursor: MatchCursor {
    private let included: MatchCursor
    private let excluded: MatchCursor

    init(_ included: MatchCursor, excluding excluded: MatchCursor) {
        self.included = included
        self.excluded = excluded
        super.init(cost: included.cost)
    }

    override func seek(_ target: UInt32) -> UInt32 {
        if settled(target) { return doc }
        var candidate = included.seek(target)
        while candidate != Self.end && excluded.seek(candidate) == candidate { candidate = included.seek(candidate + 1) }
        doc = candidate
        return doc
    }
}
