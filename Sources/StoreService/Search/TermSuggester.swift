import Foundation

/// "Did you mean": the indexed terms within a small edit distance of a word that matched nothing.
///
/// The vocabulary is kept sorted, and walked as a trie would be: a Levenshtein row is computed
/// once per distinct prefix (shared with the previous term), and as soon as a prefix's row is all
/// above the allowed distance, every term with that prefix is skipped by a binary search. So a
/// lookup touches the terms near the word, not every term (bounded like a Levenshtein automaton
/// over a trie). Distance counts UTF-8 bytes (an accented letter is two).
///
/// The sorted copy is built on first use and rebuilt once the vocabulary has grown by more than
/// 1% (+64 terms); until then terms newer than the copy are not suggested. The same copy makes a
/// prefix query a range (`terms(withPrefix:in:)`), which does look at the newer terms too.
final class TermSuggester: @unchecked Sendable {
    private let lock = NSLock()
    private var sorted: [[UInt8]] = []
    private var ids: [Int] = []
    private var builtFor = -1

    /// Allowed typos for a word of `length` bytes, as Meilisearch does: none below 4, one up to 7, two from 8.
    static func maximumDistance(forLength length: Int) -> Int { length < 4 ? 0 : length < 8 ? 1 : 2 }

    /// Up to `limit` term ids closest to `word` (fewest edits, then most documents), with their distance.
    func suggestions(for word: String, in index: SearchIndex, limit: Int = 3) -> [(term: String, id: Int, distance: Int)] {
        let target = Array(word.utf8)
        let maximum = Self.maximumDistance(forLength: target.count)
        guard maximum > 0 else { return [] }
        let (terms, termIDs, _) = vocabulary(of: index)
        var found: [(term: String, id: Int, distance: Int)] = []
        var rows: [[Int]] = [Array(0...target.count)]
        var previous: [UInt8] = []
        var i = 0
        while i < terms.count {
            let term = terms[i]
            var shared = 0
            while shared < min(previous.count, term.count, rows.count - 1), previous[shared] == term[shared] { shared += 1 }
            rows.removeLast(rows.count - 1 - shared)
            var pruneAt: Int?
            for depth in shared..<term.count {
                let above = rows[depth]
                var row = [depth + 1] + [Int](repeating: 0, count: target.count)
                for j in 1...target.count {
                    let cost = target[j - 1] == term[depth] ? 0 : 1
                    row[j] = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + cost)
                }
                rows.append(row)
                if row.min()! > maximum { pruneAt = depth + 1; break }
            }
            previous = term
            if let prefixLength = pruneAt {
                // Every later term with this prefix is at least as far: jump past them.
                let prefix = term[0..<prefixLength]
                var low = i + 1, high = terms.count
                while low < high {
                    let mid = (low + high) / 2
                    if terms[mid].starts(with: prefix) || terms[mid].lexicographicallyPrecedes(prefix) { low = mid + 1 } else { high = mid }
                }
                i = low
                continue
            }
            let distance = rows[term.count][target.count]
            if distance <= maximum, distance > 0, index.postings[termIDs[i]].live > 0 { found.append((String(decoding: term, as: UTF8.self), termIDs[i], distance)) }
            i += 1
        }
        found.sort { a, b in
            a.distance != b.distance ? a.distance < b.distance : index.postings[a.id].live > index.postings[b.id].live
        }
        return Array(found.prefix(limit))
    }

    /// Ids of the indexed terms that begin with `prefix` (the term itself included): a binary
    /// search to the range in the sorted copy, then the terms added since the copy was made.
    func terms(withPrefix prefix: String, in index: SearchIndex) -> [Int] {
        let wanted = Array(prefix.utf8)
        let (terms, termIDs, builtFor) = vocabulary(of: index)
        var low = 0, high = terms.count
        while low < high {
            let mid = (low + high) / 2
            if terms[mid].lexicographicallyPrecedes(wanted) { low = mid + 1 } else { high = mid }
        }
        var found: [Int] = []
        while low < terms.count && terms[low].starts(with: wanted) {
            // (A copy of the index older than the sorted vocabulary lacks its newest ids.)
            if termIDs[low] < index.terms.count { found.append(termIDs[low]) }
            low += 1
        }
        for id in builtFor..<max(builtFor, index.terms.count) where index.terms[id].utf8.starts(with: wanted) { found.append(id) }
        return found
    }

    /// The sorted vocabulary (terms as UTF-8, their ids) and how many term ids it covers.
    private func vocabulary(of index: SearchIndex) -> ([[UInt8]], [Int], Int) {
        lock.lock()
        defer { lock.unlock() }
        let size = index.terms.count
        if builtFor < 0 || size > builtFor + builtFor / 100 + 64 {
            let order = index.terms.indices.sorted { index.terms[$0].utf8.lexicographicallyPrecedes(index.terms[$1].utf8) }
            sorted = order.map { Array(index.terms[$0].utf8) }
            ids = order
            builtFor = size
        }
        return (sorted, ids, builtFor)
    }
}

extension SearchIndex {
    /// A live document holding the term, if any.
    func firstLiveDocument(termID id: Int) -> UInt32? {
        var cursor = PostingList.Cursor(postings[id])
        while cursor.advance() {
            if lengths[Int(cursor.doc)] != Self.absent { return cursor.doc }
        }
        return nil
    }
}
