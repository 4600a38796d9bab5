/// One word of a command line: bare, or `key=value`.
struct LineToken: Equatable {
    var key: String?
    var value: String
    /// Whether the value came from quotes (so `"a=b"` stays a plain word).
    var quoted: Bool
    /// The word as typed, quotes included: SEARCH hands it to the query language, where quotes
    /// make a phrase (`"one-woman show"`, `subject:"last scene"`, `"city of"*`).
    var raw: String = ""

    init(key: String?, value: String, quoted: Bool, raw: String = "") {
        self.key = key
        self.value = value
        self.quoted = quoted
        self.raw = raw
    }

    static func == (a: LineToken, b: LineToken) -> Bool {
        a.key == b.key && a.value == b.value && a.quoted == b.quoted
    }
}

/// Splits a command line into words. Words are separated by spaces; a value containing spaces
/// is written in double quotes with `\"`, `\\` and `\n` escapes; `key=value` names an option and
/// its value may be quoted too (`film="La La Land"`).
///
/// Works on the UTF-8 bytes: every byte it acts on (space, tab, quote, backslash, `=`) is ASCII,
/// and no byte of a multi-byte UTF-8 sequence is, so splitting bytes splits characters correctly.
/// (Building words one Unicode scalar at a time was most of the gateway's CPU for a PUT.)
enum LineTokenizer {
    static func tokenize(_ line: String) throws(TextCommandError) -> [LineToken] {
        var line = line
        let result: Result<[LineToken], TextCommandError> = line.withUTF8 { bytes in
            do throws(TextCommandError) { return .success(try tokenize(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), quote = UInt8(ascii: "\""),
                       backslash = UInt8(ascii: "\\"), equals = UInt8(ascii: "=")

    private static func tokenize(_ bytes: UnsafeBufferPointer<UInt8>) throws(TextCommandError) -> [LineToken] {
        var tokens: [LineToken] = []
        var index = 0
        var current: [UInt8] = []
        while true {
            while index < bytes.count, bytes[index] == space || bytes[index] == tab { index += 1 }
            guard index < bytes.count else { return tokens }
            let start = index
            var key: String?
            current.removeAll(keepingCapacity: true)
            var quoted = false
            var inQuotes = false
            while index < bytes.count {
                let byte = bytes[index]
                if inQuotes {
                    index += 1
                    if byte == backslash {
                        guard index < bytes.count else { throw .badRequest("line ends inside an escape") }
                        let next = bytes[index]
                        index += 1
                        switch next {
                        case quote: current.append(quote)
                        case backslash: current.append(backslash)
                        case UInt8(ascii: "n"): current.append(UInt8(ascii: "\n"))
                        default:
                            let shown = String(decoding: UnsafeBufferPointer(rebasing: bytes[(index - 1)..<min(index + 3, bytes.count)]), as: UTF8.self)
                            throw .badRequest("unknown escape \\\(shown.unicodeScalars.first.map { String($0) } ?? "") (use \\\", \\\\ or \\n)")
                        }
                    } else if byte == quote {
                        inQuotes = false
                    } else {
                        current.append(byte)
                    }
                    continue
                }
                if byte == space || byte == tab { break }
                index += 1
                if byte == quote {
                    inQuotes = true
                    quoted = true
                } else if byte == equals, key == nil, !quoted, !current.isEmpty {
                    key = String(decoding: current, as: UTF8.self).lowercased()
                    current.removeAll(keepingCapacity: true)
                } else {
                    current.append(byte)
                }
            }
            if inQuotes { throw .badRequest("unterminated quote") }
            tokens.append(LineToken(key: key, value: String(decoding: current, as: UTF8.self), quoted: quoted,
                                    raw: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)))
        }
    }
}
