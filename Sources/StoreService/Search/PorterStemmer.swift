/// English stemming exactly as SQLite FTS5's `porter` tokenizer does it (ext/fts5/fts5_porter.c):
/// Porter's 1980 algorithm on the bytes of a token already folded by unicode61, with SQLite's
/// specifics, all kept here because ranking must equal FTS5's:
///
/// - tokens shorter than 3 or longer than 64 bytes pass through unchanged;
/// - only a, e, i, o, u are vowels, and y after a consonant; any non-ASCII byte is a consonant;
/// - step 1a: `sses`→`ss`, `ies`→`i` (only with a letter before it), `s`→`` unless `ss`;
/// - step 2 also has `logi`→`log` and `bli`→`ble` (no `abli`); step 4's `ion` needs `s` or `t`
///   before it; each step tries one suffix only — the first that matches, even if its condition
///   then fails — and a suffix must leave a non-empty stem.
///
/// `PorterStemmerFTS5Tests` checks it against SQLite on every word of a large vocabulary.
public enum PorterStemmer {
    static let minimumLength = 3
    static let maximumLength = 64

    public static func stem(_ term: String) -> String {
        let count = term.utf8.count
        guard count >= minimumLength, count <= maximumLength else { return term }
        var word = Word(Array(term.utf8))
        word.stem()
        return word.bytes.count == count && word.bytes.elementsEqual(term.utf8) ? term : String(decoding: word.bytes, as: UTF8.self)
    }

    struct Word {
        var bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var n: Int { bytes.count }

        /// The byte `back` places from the end, or 0 past the start.
        func at(_ back: Int) -> UInt8 { n - back >= 0 ? bytes[n - back] : 0 }

        func endsWith(_ suffix: String) -> Bool {
            // (Not `Array(suffix.utf8)`: that allocated once per rule tried.)
            let s = suffix.utf8
            return n > s.count && bytes[(n - s.count)...].elementsEqual(s)
        }

        mutating func replace(_ suffixLength: Int, with replacement: String) {
            bytes.removeLast(suffixLength)
            bytes.append(contentsOf: replacement.utf8)
        }

        static func isVowel(_ c: UInt8, yIsVowel: Bool) -> Bool {
            switch c {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "i"), UInt8(ascii: "o"), UInt8(ascii: "u"): return true
            case UInt8(ascii: "y"): return yIsVowel
            default: return false
            }
        }

        /// Length of the shortest prefix of `stem` that is [C]V…C (one vowel-consonant
        /// sequence), or 0 if there is none.
        static func gobbleVC(_ stem: ArraySlice<UInt8>, previousConsonant: Bool) -> Int {
            var consonant = previousConsonant
            var i = stem.startIndex
            while i < stem.endIndex {
                consonant = !isVowel(stem[i], yIsVowel: consonant)
                if !consonant { break }
                i += 1
            }
            i += 1
            while i < stem.endIndex {
                consonant = !isVowel(stem[i], yIsVowel: consonant)
                if consonant { return i - stem.startIndex + 1 }
                i += 1
            }
            return 0
        }

        func mGreaterThan0(_ length: Int) -> Bool { Self.gobbleVC(bytes[0..<length], previousConsonant: false) != 0 }

        func mGreaterThan1(_ length: Int) -> Bool {
            let first = Self.gobbleVC(bytes[0..<length], previousConsonant: false)
            return first != 0 && Self.gobbleVC(bytes[first..<length], previousConsonant: true) != 0
        }

        func mEquals1(_ length: Int) -> Bool {
            let first = Self.gobbleVC(bytes[0..<length], previousConsonant: false)
            return first != 0 && Self.gobbleVC(bytes[first..<length], previousConsonant: true) == 0
        }

        /// *o: the stem ends consonant-vowel-consonant, the last not w, x or y.
        func oStar(_ length: Int) -> Bool {
            let last = bytes[length - 1]
            if last == UInt8(ascii: "w") || last == UInt8(ascii: "x") || last == UInt8(ascii: "y") { return false }
            var mask = 0
            var consonant = false
            for i in 0..<length {
                consonant = !Self.isVowel(bytes[i], yIsVowel: consonant)
                mask = (mask << 1) + (consonant ? 1 : 0)
            }
            return mask & 0x7 == 0x5
        }

        /// *v*: the stem contains a vowel (y counts after the first letter).
        func hasVowel(_ length: Int) -> Bool {
            (0..<length).contains { Self.isVowel(bytes[$0], yIsVowel: $0 > 0) }
        }

        /// Tries `rules` in order: the first suffix that ends the word decides; its replacement
        /// applies when `condition(stem length)` holds. Returns whether it applied.
        @discardableResult
        mutating func step(_ rules: [(String, String)], _ condition: (Word, Int) -> Bool) -> Bool {
            for (suffix, replacement) in rules where endsWith(suffix) {
                let stemLength = n - suffix.utf8.count
                guard condition(self, stemLength) else { return false }
                // Step 4's `ion` also needs the stem to end in s or t (marked "~st").
                if replacement == "~st" {
                    guard bytes[stemLength - 1] == UInt8(ascii: "s") || bytes[stemLength - 1] == UInt8(ascii: "t") else { return false }
                    replace(suffix.utf8.count, with: "")
                } else {
                    replace(suffix.utf8.count, with: replacement)
                }
                return true
            }
            return false
        }

        mutating func stem() {
            // Step 1a.
            if at(1) == UInt8(ascii: "s") {
                if at(2) == UInt8(ascii: "e") {
                    if (n > 4 && at(4) == UInt8(ascii: "s") && at(3) == UInt8(ascii: "s")) || (n > 3 && at(3) == UInt8(ascii: "i")) {
                        bytes.removeLast(2)
                    } else {
                        bytes.removeLast()
                    }
                } else if at(2) != UInt8(ascii: "s") {
                    bytes.removeLast()
                }
            }
            // Step 1b.
            var removedEdOrIng = false
            if at(2) == UInt8(ascii: "e") {
                if endsWith("eed") {
                    if mGreaterThan0(n - 3) { replace(3, with: "ee") }
                } else if endsWith("ed"), hasVowel(n - 2) {
                    bytes.removeLast(2)
                    removedEdOrIng = true
                }
            } else if at(2) == UInt8(ascii: "n"), endsWith("ing"), hasVowel(n - 3) {
                bytes.removeLast(3)
                removedEdOrIng = true
            }
            if removedEdOrIng {
                let grown = step([("at", "ate"), ("bl", "ble"), ("iz", "ize")]) { _, _ in true }
                if !grown {
                    let c = at(1)
                    if !Self.isVowel(c, yIsVowel: false) && c != UInt8(ascii: "l") && c != UInt8(ascii: "s") && c != UInt8(ascii: "z") && c == at(2) {
                        bytes.removeLast()
                    } else if mEquals1(n) && oStar(n) {
                        bytes.append(UInt8(ascii: "e"))
                    }
                }
            }
            // Step 1c.
            if at(1) == UInt8(ascii: "y"), hasVowel(n - 1) { bytes[n - 1] = UInt8(ascii: "i") }
            // Steps 2 to 4: the rules for the word's second-to-last letter.
            step(Self.step2[at(2)] ?? []) { w, length in w.mGreaterThan0(length) }
            step(Self.step3[at(2)] ?? []) { w, length in w.mGreaterThan0(length) }
            step(Self.step4[at(2)] ?? []) { w, length in w.mGreaterThan1(length) }
            // Step 5a.
            if at(1) == UInt8(ascii: "e"), mGreaterThan1(n - 1) || (mEquals1(n - 1) && !oStar(n - 1)) {
                bytes.removeLast()
            }
            // Step 5b.
            if n > 1, at(1) == UInt8(ascii: "l"), at(2) == UInt8(ascii: "l"), mGreaterThan1(n - 1) {
                bytes.removeLast()
            }
        }

        static func table(_ rules: [(String, [(String, String)])]) -> [UInt8: [(String, String)]] {
            Dictionary(uniqueKeysWithValues: rules.map { (UInt8(ascii: Unicode.Scalar($0.0)!), $0.1) })
        }

        static let step2 = table([
            ("a", [("ational", "ate"), ("tional", "tion")]),
            ("c", [("enci", "ence"), ("anci", "ance")]),
            ("e", [("izer", "ize")]),
            ("g", [("logi", "log")]),
            ("l", [("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous")]),
            ("o", [("ization", "ize"), ("ation", "ate"), ("ator", "ate")]),
            ("s", [("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous")]),
            ("t", [("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")]),
        ])

        static let step3 = table([
            ("a", [("ical", "ic")]),
            ("s", [("ness", "")]),
            ("t", [("icate", "ic"), ("iciti", "ic")]),
            ("u", [("ful", "")]),
            ("v", [("ative", "")]),
            ("z", [("alize", "al")]),
        ])

        static let step4 = table([
            ("a", [("al", "")]),
            ("c", [("ance", ""), ("ence", "")]),
            ("e", [("er", "")]),
            ("i", [("ic", "")]),
            ("l", [("able", ""), ("ible", "")]),
            ("n", [("ant", ""), ("ement", ""), ("ment", ""), ("ent", "")]),
            ("o", [("ion", "~st"), ("ou", "")]),
            ("s", [("ism", "")]),
            ("t", [("ate", ""), ("iti", "")]),
            ("u", [("ous", "")]),
            ("v", [("ive", "")]),
            ("z", [("ize", "")]),
        ])
    }
}
