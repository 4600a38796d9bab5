import Foundation

/// One token of indexed text: the folded term and where it came from (for snippets).
public struct SearchToken: Equatable, Sendable {
    public var term: String
    public var range: Range<String.Index>
}

/// Tokenizes like SQLite FTS5's `unicode61` tokenizer with its defaults (remove_diacritics=1):
/// tokens are maximal runs of letters, numbers and private-use characters (Unicode categories
/// L*, N*, Co) and of the 25 combining diacritics FTS5 knows (U+0300–U+0331, `isFTS5Diacritic`);
/// everything else separates. Each code point is case-folded (simple case folding: `ς`→`σ`,
/// `µ`→`μ`, `ſ`→`s`), a Latin letter carrying one of those diacritics loses it (`é`→`e`,
/// `İ`→`i`), and the combining diacritics themselves are dropped, so a decomposed `e\u{301}`
/// folds like `é`. As in FTS5, a letter with two diacritics (`ǖ`, Vietnamese `ệ`) and non-Latin
/// letters (`й`, `ά`, `が`) keep theirs.
///
/// Where this differs from FTS5 (pinned by `TokenizerFTS5OracleTests`, which compares every code
/// point up to U+323FF): FTS5's character tables are from Unicode 6.1, this uses the current
/// Unicode data (Swift's). So code points assigned after 6.1 (most emoji, e.g. 🤔, new scripts)
/// separate words here and are mostly letters to FTS5; noncharacters (U+FDD0–U+FDEF, U+xFFFE/F)
/// too; and a few whose properties changed since: Cherokee U+13A0–U+13F5 lower-case (to U+AB70…)
/// here, New Tai Lue vowel signs U+19B0–U+19C9 and Vedic signs U+1CF2–U+1CF3 are letters here,
/// Mongolian U+1885–U+1886 are marks (separators) here. And `SearchIndex` compares terms as Swift
/// strings, by canonical equivalence: a Hangul word stored decomposed into jamo (NFD) matches its
/// composed form here, not in FTS5.
public enum Unicode61Tokenizer {
    public static func tokenize(_ text: String) -> [SearchToken] {
        let (terms, runs) = scan(text)
        // Runs start and end on scalar boundaries, and UTF-8 offsets of a native string are O(1).
        let utf8 = text.utf8
        return zip(terms, runs).map { term, run in
            SearchToken(term: term, range: utf8.index(utf8.startIndex, offsetBy: run.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: run.upperBound))
        }
    }

    /// Just the terms, for indexing and queries.
    public static func terms(_ text: String) -> [String] {
        scan(text).terms
    }

    /// Calls `body` with each folded term, in order, without building arrays: indexing numbers
    /// the terms as they come (`SearchIndex.AnalyzedTerms`).
    @inline(__always)
    static func forEachTerm(in text: String, _ body: (String) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            forEachRun(in: bytes) { run, ascii in
                if let term = term(of: run, in: bytes, ascii: ascii) { body(term) }
                return true
            }
        }
    }

    /// Folded terms and their UTF-8 byte ranges, in one pass over the bytes: ASCII bytes are
    /// classified and lower-cased directly, other scalars are decoded and looked up, and only a
    /// token holding a non-ASCII scalar goes through `fold`. (Tokenizing by appending Unicode
    /// scalars one at a time was the largest cost of a PUT, and of a SEARCH's snippets.)
    static func scan(_ text: String) -> (terms: [String], runs: [Range<Int>]) {
        var text = text
        return text.withUTF8 { bytes in
            var terms: [String] = []
            var runs: [Range<Int>] = []
            forEachRun(in: bytes) { run, ascii in
                if let term = term(of: run, in: bytes, ascii: ascii) {
                    terms.append(term)
                    runs.append(run)
                }
                return true
            }
            return (terms, runs)
        }
    }

    /// The folded term of the run of token characters `run` of `bytes`; nil for a run of
    /// combining diacritics alone, which folds to nothing: no token, as in FTS5.
    @inline(__always)
    static func term(of run: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
        let run = UnsafeBufferPointer(rebasing: bytes[run])
        guard ascii else {
            let term = fold(String(decoding: run, as: UTF8.self))
            return term.isEmpty ? nil : term
        }
        return String(unsafeUninitializedCapacity: run.count) { out in
            for (offset, byte) in run.enumerated() { out[offset] = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte }
            return run.count
        }
    }

    /// Calls `body` with each maximal run of token characters in `bytes` (valid UTF-8), in order,
    /// and whether it is all ASCII, until `body` returns false. A run is a token unless it folds
    /// to nothing (`term(of:in:ascii:)`). ASCII bytes are classified directly, other scalars
    /// are decoded and looked up.
    @inline(__always)
    static func forEachRun(in bytes: UnsafeBufferPointer<UInt8>, _ body: (_ run: Range<Int>, _ ascii: Bool) -> Bool) {
        var start = -1
        var ascii = true
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let width: Int
            let isToken: Bool
            if byte < 0x80 {
                width = 1
                isToken = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            } else {
                // Swift strings hold valid UTF-8: the lead byte gives the width.
                width = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                var value = UInt32(byte) & (width == 4 ? 0x07 : width == 3 ? 0x0F : 0x1F)
                for next in bytes[(index + 1)..<(index + width)] { value = value << 6 | UInt32(next & 0x3F) }
                isToken = Unicode.Scalar(value).map(isTokenCharacter) ?? false
            }
            if isToken {
                if start < 0 { start = index }
                if byte >= 0x80 { ascii = false }
            } else if start >= 0 {
                guard body(start..<index, ascii) else { return }
                start = -1
                ascii = true
            }
            index += width
        }
        if start >= 0 { _ = body(start..<bytes.count, ascii) }
    }

    @inline(__always)
    static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 {
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber, .privateUse:
            return true
        case .nonspacingMark:
            return isFTS5Diacritic(v)
        default:
            return false
        }
    }

    /// The combining marks FTS5's unicode61 treats as diacritics (`sqlite3Fts5UnicodeIsdiacritic`):
    /// 25 code points of U+0300–U+0331. They are token characters, and folding drops them.
    @inline(__always)
    static func isFTS5Diacritic(_ v: UInt32) -> Bool {
        guard v >= 0x300, v <= 0x331 else { return false }
        let mask0: UInt32 = 0x0802_9FDF  // U+0300–U+031F
        let mask1: UInt32 = 0x0003_61F8  // U+0320–U+0331
        return v < 0x320 ? mask0 & (1 << (v - 0x300)) != 0 : mask1 & (1 << (v - 0x320)) != 0
    }

    /// Case-fold and remove diacritics one code point at a time, as FTS5 does (a letter never
    /// turns into two): drop FTS5's combining diacritics; strip a single diacritic from a Latin
    /// letter; apply simple case folding; strip again (`Å` U+212B → `å` → `a`).
    static func fold(_ term: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in term.unicodeScalars {
            if scalar.isASCII {
                out.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
                continue
            }
            if isFTS5Diacritic(scalar.value) { continue }
            out.append(withoutLatinDiacritic(caseFolded(withoutLatinDiacritic(scalar))))
        }
        return String(out)
    }

    /// Simple case folding: the lower-case mapping, except where folding differs from it.
    private static func caseFolded(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x00B5: return "\u{03BC}"  // µ micro sign → μ
        case 0x017F: return "s"          // ſ long s
        case 0x03C2: return "\u{03C3}"  // ς final sigma → σ
        case 0x03D0: return "\u{03B2}"  // ϐ → β
        case 0x03D1: return "\u{03B8}"  // ϑ → θ
        case 0x03D5: return "\u{03C6}"  // ϕ → φ
        case 0x03D6: return "\u{03C0}"  // ϖ → π
        case 0x03F0: return "\u{03BA}"  // ϰ → κ
        case 0x03F1: return "\u{03C1}"  // ϱ → ρ
        case 0x03F5: return "\u{03B5}"  // ϵ → ε
        case 0x1E9B: return "\u{1E61}"  // ẛ → ṡ
        case 0x1FBE: return "\u{03B9}"  // ι prosgegrammeni → ι
        default: break
        }
        let lowered = scalar.properties.lowercaseMapping.unicodeScalars
        // Only U+0130 (İ) lower-cases to two scalars; it lost its dot above already.
        return lowered.count == 1 ? lowered.first! : scalar
    }

    /// A Latin letter with one FTS5 diacritic (`é` = `e` + U+0301) → the letter; anything else as is.
    private static func withoutLatinDiacritic(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        guard !scalar.isASCII, scalar.properties.canonicalCombiningClass == .notReordered else { return scalar }
        let parts = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
        guard parts.count == 2, let base = parts.first, let mark = parts.last,
              base.isASCII, base.properties.isAlphabetic, isFTS5Diacritic(mark.value) else { return scalar }
        return base
    }
}
