/// One word of a command line: bare, or `key=value`.
struct LineToken: Equatable {
    var key: String?
    var value: String
    /// Whether the value came from quotes (so `"a=b"` stays a plain word).
    var quoted: Bool
}

/// Splits a command line into words. Words are separated by spaces; a value containing spaces
/// is written in double quotes with `\"`, `\\` and `\n` escapes; `key=value` names an option and
/// its value may be quoted too (`film="La La Land"`).
enum LineTokenizer {
    static func tokenize(_ line: String) throws(TextCommandError) -> [LineToken] {
        var tokens: [LineToken] = []
        var chars = Array(line.unicodeScalars)[...]
        while true {
            while let first = chars.first, first == " " || first == "\t" { chars.removeFirst() }
            guard !chars.isEmpty else { return tokens }
            var key: String?
            var current = ""
            var quoted = false
            var inQuotes = false
            while let c = chars.first {
                if inQuotes {
                    chars.removeFirst()
                    if c == "\\" {
                        guard let next = chars.popFirst() else { throw .badRequest("line ends inside an escape") }
                        switch next {
                        case "\"": current.unicodeScalars.append("\"")
                        case "\\": current.unicodeScalars.append("\\")
                        case "n": current.unicodeScalars.append("\n")
                        default: throw .badRequest("unknown escape \\\(next) (use \\\", \\\\ or \\n)")
                        }
                    } else if c == "\"" {
                        inQuotes = false
                    } else {
                        current.unicodeScalars.append(c)
                    }
                    continue
                }
                if c == " " || c == "\t" { break }
                chars.removeFirst()
                if c == "\"" {
                    inQuotes = true
                    quoted = true
                } else if c == "=", key == nil, !quoted, !current.isEmpty {
                    key = current.lowercased()
                    current = ""
                } else {
                    current.unicodeScalars.append(c)
                }
            }
            if inQuotes { throw .badRequest("unterminated quote") }
            tokens.append(LineToken(key: key, value: current, quoted: quoted))
        }
    }
}
