extension SearchIndex {
    /// A document's terms with their positions: everything indexing or unindexing it needs. Pure,
    /// so the store computes it before taking its lock and only the posting updates happen under
    /// the lock. `Term` is the term itself, or a number for it (the rebuild numbers terms per part).
    ///
    /// Flat, so a document costs four arrays whatever its vocabulary: `terms` in order of first
    /// occurrence, and `terms[i]`'s positions (ascending `PostingList.position` keys) are
    /// `positions[starts[i] ..< starts[i + 1]]`.
    public struct AnalyzedTerms<Term: Hashable & Sendable>: Sendable {
        public private(set) var terms: [Term] = []
        private(set) var starts: [Int32] = [0]
        private(set) var positions: [UInt32] = []
        /// Tokens in all columns: |D|.
        public private(set) var length = 0

        /// Tokenizes the (at most four) columns, numbering each new term with `number`. Terms come
        /// straight from the tokenizer (`forEachTerm`), with no array of a column's words or stems.
        ///
        /// Stemming each distinct word once instead, through a process-wide word -> stem cache, was
        /// tried and measured no cheaper: the extra dictionary lookups cost what the stemming saved
        /// (docs/PERFORMANCE.md, "Bulk indexing", 2026-11-30).
        init(fields: [String], number: (String) -> Term) {
            precondition(fields.count <= SearchQuery.columns.count, "a document has at most four columns")
            var slots: [Term: Int32] = [:]
            var tokens: [(slot: Int32, position: UInt32)] = []
            for (column, field) in fields.enumerated() {
                var offset = 0
                Unicode61Tokenizer.forEachTerm(in: field) { word in
                    let key = number(PorterStemmer.stem(word))
                    let slot: Int32
                    if let known = slots[key] {
                        slot = known
                    } else {
                        slot = Int32(terms.count)
                        slots[key] = slot
                        terms.append(key)
                    }
                    tokens.append((slot, PostingList.position(column: column, offset: offset)))
                    offset += 1
                }
            }
            length = tokens.count
            // Group by term (a counting sort keeps each term's positions ascending).
            var counts = [Int32](repeating: 0, count: terms.count + 1)
            for token in tokens { counts[Int(token.slot) + 1] += 1 }
            for i in 1..<counts.count { counts[i] += counts[i - 1] }
            starts = counts
            var next = counts
            positions = [UInt32](repeating: 0, count: tokens.count)
            for token in tokens {
                positions[Int(next[Int(token.slot)])] = token.position
                next[Int(token.slot)] += 1
            }
        }

        /// The positions of `terms[i]`.
        func positions(ofTermAt i: Int) -> ArraySlice<UInt32> { positions[Int(starts[i])..<Int(starts[i + 1])] }
    }
}

extension SearchIndex.AnalyzedTerms where Term == String {
    /// A document's terms, as the index stores them.
    public init(fields: [String]) { self.init(fields: fields) { $0 } }
}
