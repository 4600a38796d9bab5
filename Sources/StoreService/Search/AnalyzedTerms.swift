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

        /// Tokenizes the (at most four) columns, numbering each new term with `number`.
        ///
        /// Words are collected first and stemmed once each, through `stems` (a word repeats
        /// within a document, and across documents in the cache); `number` is called once per
        /// distinct word, not per token. The result is the same as stemming every token.
        init(fields: [String], stems: StemCache = .shared, number: (String) -> Term) {
            precondition(fields.count <= SearchQuery.columns.count, "a document has at most four columns")
            // 1. Distinct words (folded, not yet stemmed) in order of first occurrence, and each
            //    token as (word, position).
            var wordSlots: [String: Int32] = [:]
            var words: [String] = []
            var tokens: [(word: Int32, position: UInt32)] = []
            for (column, field) in fields.enumerated() {
                var offset = 0
                Unicode61Tokenizer.forEachTerm(in: field) { word in
                    let slot: Int32
                    if let known = wordSlots[word] {
                        slot = known
                    } else {
                        slot = Int32(words.count)
                        wordSlots[word] = slot
                        words.append(word)
                    }
                    tokens.append((slot, PostingList.position(column: column, offset: offset)))
                    offset += 1
                }
            }
            length = tokens.count
            // 2. Each word's term: words sharing a stem ("dream", "dreams") share a term, and
            //    terms keep the order of their first word, which is that of their first token.
            var termSlots: [Term: Int32] = [:]
            var termOfWord: [Int32] = []
            termOfWord.reserveCapacity(words.count)
            for stem in stems.stems(of: words) {
                let key = number(stem)
                if let known = termSlots[key] {
                    termOfWord.append(known)
                } else {
                    let slot = Int32(terms.count)
                    termSlots[key] = slot
                    terms.append(key)
                    termOfWord.append(slot)
                }
            }
            // 3. Group positions by term (a counting sort keeps each term's positions ascending).
            var counts = [Int32](repeating: 0, count: terms.count + 1)
            for token in tokens { counts[Int(termOfWord[Int(token.word)]) + 1] += 1 }
            for i in 1..<counts.count { counts[i] += counts[i - 1] }
            starts = counts
            var next = counts
            positions = [UInt32](repeating: 0, count: tokens.count)
            for token in tokens {
                let term = Int(termOfWord[Int(token.word)])
                positions[Int(next[term])] = token.position
                next[term] += 1
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
