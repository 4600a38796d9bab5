import EpilogueShared

/// The Porter stems of words already seen, shared by every thread that analyses text. Stemming
/// is the costliest step of analysing a word, and prose repeats its words (the vocabulary is
/// Zipfian: most of a record's words were in an earlier one), so a word is stemmed about once.
///
/// Bounded: at most `capacity` words. When it is full it starts over; the frequent words come
/// back at once. Words that stemming leaves alone by length (`PorterStemmer.minimumLength`,
/// `maximumLength`) are never stored. A lookup takes the lock once per batch of words (a
/// document), and stems the misses outside it.
final class StemCache: Sendable {
    /// The process's cache: stems do not depend on the store, so one serves all of them.
    static let shared = StemCache(capacity: 1 << 16)

    let capacity: Int
    private let stems: Locked<[String: String]>

    init(capacity: Int) {
        self.capacity = capacity
        stems = Locked([:])
    }

    /// `PorterStemmer.stem` of each of `words`, in order.
    func stems(of words: [String]) -> [String] {
        var found = stems.withLock { table in words.map { table[$0] } }
        var missed: [Int] = []
        for (i, word) in words.enumerated() where found[i] == nil {
            found[i] = PorterStemmer.stem(word)
            let length = word.utf8.count
            if length >= PorterStemmer.minimumLength && length <= PorterStemmer.maximumLength { missed.append(i) }
        }
        if !missed.isEmpty {
            stems.withLock { table in
                if table.count + missed.count > capacity { table.removeAll(keepingCapacity: true) }
                for i in missed.prefix(capacity) { table[words[i]] = found[i] }
            }
        }
        return found.map { $0! }
    }

    /// Words held now (tests).
    var count: Int { stems.withLock { $0.count } }
}
