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

    /// Folded terms and their UTF-8 byte ranges, in one pass over the bytes: ASCII bytes are
    /// classified and lower-cased directly, other scalars are decoded and looked up, and only a
    /// token holding a non-ASCII scalar goes through `fold`. (Tokenizing by appending Unicode
    /// scalars one at a time was the largest cost of a PUT, and of a SEARCH's snippets.)
    static func scan(_ text: String) -> (terms: [String], runs: [Range<Int>]) {
        var text = text
        return text.withUTF8 { bytes in
            var terms: [String] = []
            var runs: [Range<Int>] = []
            var start = -1
            var ascii = true
            var index = 0
            func finish(at end: Int) {
                let run = UnsafeBufferPointer(rebasing: bytes[start..<end])
                if ascii {
                    terms.append(String(unsafeUninitializedCapacity: run.count) { out in
                        for (offset, byte) in run.enumerated() { out[offset] = byte >= 0x41 && byte <= 0x5A ? byte + 32 : byte }
                        return run.count
                    })
                } else {
                    terms.append(fold(String(decoding: run, as: UTF8.self)))
                }
                runs.append(start..<end)
                start = -1
                ascii = true
            }
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
                    finish(at: index)
                }
                index += width
            }
            if start >= 0 { finish(at: bytes.count) }
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
