import Foundation

/// One token of indexed text: the folded term and where it came from (for snippets).
public struct SearchToken: Equatable, Sendable {
    public var term: String
    public var range: Range<String.Index>
}

/// Tokenizes like SQLite FTS5's `unicode61` tokenizer with its defaults (remove_diacritics=1):
/// tokens are maximal runs of letters, numbers and private-use characters (Unicode categories
/// L*, N*, Co); everything else separates; tokens are case-folded with diacritics removed.
public enum Unicode61Tokenizer {
    public static func tokenize(_ text: String) -> [SearchToken] {
        if let tokens = asciiTokens(text) { return tokens }
        var tokens: [SearchToken] = []
        let scalars = text.unicodeScalars
        var index = scalars.startIndex
        while index < scalars.endIndex {
            guard isTokenCharacter(scalars[index]) else {
                index = scalars.index(after: index)
                continue
            }
            let start = index
            var term = String.UnicodeScalarView()
            var ascii = true
            while index < scalars.endIndex, isTokenCharacter(scalars[index]) {
                let scalar = scalars[index]
                if scalar.isASCII {
                    // A–Z → a–z; digits and a–z as they are.
                    term.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
                } else {
                    ascii = false
                    term.append(scalar)
                }
                index = scalars.index(after: index)
            }
            var folded = String(term)
            if !ascii { folded = fold(folded) }
            tokens.append(SearchToken(term: folded, range: start..<index))
        }
        return tokens
    }

    /// Just the terms, for indexing and queries.
    public static func terms(_ text: String) -> [String] {
        asciiTerms(text) ?? tokenize(text).map(\.term)
    }

    /// The same terms for ASCII-only text, straight from the UTF-8 bytes; nil for any other text.
    /// Tokenizing by Unicode scalars (one String append per character) was the largest cost of a
    /// PUT in the store, and of a SEARCH's snippets (perf); records are mostly ASCII.
    static func asciiTerms(_ text: String) -> [String]? {
        asciiScan(text)?.terms
    }

    /// `tokenize` for ASCII-only text; nil for any other text.
    static func asciiTokens(_ text: String) -> [SearchToken]? {
        guard let (terms, runs) = asciiScan(text) else { return nil }
        // In ASCII text every byte offset is a character boundary, and UTF-8 view offsets of a
        // native string are O(1).
        let utf8 = text.utf8
        return zip(terms, runs).map { term, run in
            SearchToken(term: term, range: utf8.index(utf8.startIndex, offsetBy: run.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: run.upperBound))
        }
    }

    /// Folded terms and their byte ranges, in one pass over the UTF-8 bytes.
    private static func asciiScan(_ text: String) -> (terms: [String], runs: [Range<Int>])? {
        var text = text
        return text.withUTF8 { bytes -> ([String], [Range<Int>])? in
            for byte in bytes where byte >= 0x80 { return nil }
            var terms: [String] = []
            var runs: [Range<Int>] = []
            var start = -1
            for index in 0...bytes.count {
                let isToken: Bool
                if index < bytes.count {
                    let byte = bytes[index]
                    isToken = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                } else {
                    isToken = false
                }
                if isToken {
                    if start < 0 { start = index }
                } else if start >= 0 {
                    let run = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    terms.append(String(unsafeUninitializedCapacity: run.count) { out in
                        for (offset, byte) in run.enumerated() { out[offset] = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte }
                        return run.count
                    })
                    runs.append(start..<index)
                    start = -1
                }
            }
            return (terms, runs)
        }
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
        default:
            return false
        }
    }

    /// Lower-case and strip diacritics (é → e, Ï → i), one character at a time so a letter
    /// never turns into two (FTS5 folds code point by code point).
    static func fold(_ term: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in term.unicodeScalars {
            if scalar.isASCII {
                out.append(scalar.value >= 65 && scalar.value <= 90 ? Unicode.Scalar(scalar.value + 32)! : scalar)
                continue
            }
            let lowered = scalar.properties.lowercaseMapping.unicodeScalars
            for lower in lowered {
                // Canonical decomposition, then drop the combining marks: what is left is the base letter.
                let base = String(lower).decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                    $0.properties.generalCategory != .nonspacingMark
                }
                if base.isEmpty { out.append(lower) } else { out.append(contentsOf: base) }
            }
        }
        return String(out)
    }
}
