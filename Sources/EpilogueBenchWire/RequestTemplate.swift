/// A request with slots filled per request: `GET {id}`, `SEARCH {query} limit=10`, `PUT {record}`,
/// `SET {id} {json}`. Escapes `\r`, `\n`, `\t`, `\\` as in linebench, so memcached's
/// `set {id} 0 0 {jsonlen}\r\n{json}` is one template.
public struct RequestTemplate: Sendable, Equatable {
    public enum Slot: String, Sendable, CaseIterable {
        /// A random key from the key file, or the drawn record's id when the template has a record slot.
        case id
        /// A random line of the query file.
        case query
        /// The drawn record as the text protocol's PUT arguments (`<id> film="…" … themes=a,b`).
        case record
        /// The drawn record's JSON bytes, as loaded into the peers.
        case json
        /// The byte length of `{json}`.
        case jsonlen
    }

    public enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case slot(Slot)
    }

    /// Space-separated words (the arguments of a RESP array); a line request joins them with spaces.
    public let words: [[Piece]]

    public var slots: Set<Slot> {
        var found = Set<Slot>()
        for word in words { for case .slot(let slot) in word { found.insert(slot) } }
        return found
    }

    /// True when a request needs a corpus record drawn.
    public var drawsRecord: Bool { !slots.isDisjoint(with: [.record, .json, .jsonlen]) }

    public struct BadTemplate: Error, CustomStringConvertible {
        public var description: String
    }

    public init(_ template: String) throws(BadTemplate) {
        var words: [[Piece]] = []
        var word: [Piece] = []
        var literal: [UInt8] = []
        func flushLiteral() {
            if !literal.isEmpty { word.append(.literal(literal)); literal = [] }
        }
        let bytes = Array(template.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") {
                flushLiteral()
                if !word.isEmpty { words.append(word); word = [] }
            } else if byte == UInt8(ascii: "\\"), index + 1 < bytes.count {
                index += 1
                switch bytes[index] {
                case UInt8(ascii: "r"): literal.append(13)
                case UInt8(ascii: "n"): literal.append(10)
                case UInt8(ascii: "t"): literal.append(9)
                case UInt8(ascii: "\\"): literal.append(UInt8(ascii: "\\"))
                default: throw BadTemplate(description: "unknown escape \\\(Character(Unicode.Scalar(bytes[index])))")
                }
            } else if byte == UInt8(ascii: "{"), let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")),
                      let slot = Slot(rawValue: String(decoding: bytes[(index + 1)..<close], as: UTF8.self)) {
                flushLiteral()
                word.append(.slot(slot))
                index = close
            } else {
                literal.append(byte)
            }
            index += 1
        }
        flushLiteral()
        if !word.isEmpty { words.append(word) }
        guard !words.isEmpty else { throw BadTemplate(description: "empty template") }
        self.words = words
    }

    /// The values of one request's slots.
    public struct Values: Sendable {
        public var id: [UInt8] = []
        public var query: [UInt8] = []
        public var record: [UInt8] = []
        public var json: [UInt8] = []
        public init() {}

        func bytes(_ slot: Slot) -> [UInt8] {
            switch slot {
            case .id: return id
            case .query: return query
            case .record: return record
            case .json: return json
            case .jsonlen: return Array(String(json.count).utf8)
            }
        }
    }

    /// One line: words joined by spaces, then CRLF (text protocol, memcached, Redis inline).
    public func renderLine(_ values: Values, into out: inout [UInt8]) {
        for (index, word) in words.enumerated() {
            if index > 0 { out.append(UInt8(ascii: " ")) }
            append(word, values, into: &out)
        }
        out.append(13)
        out.append(10)
    }

    /// A RESP array of bulk strings, one per word: binary-safe, so JSON with spaces is one argument.
    public func renderRESP(_ values: Values, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "*"))
        appendDecimal(words.count, to: &out)
        out.append(13)
        out.append(10)
        var argument: [UInt8] = []
        for word in words {
            argument.removeAll(keepingCapacity: true)
            append(word, values, into: &argument)
            out.append(UInt8(ascii: "$"))
            appendDecimal(argument.count, to: &out)
            out.append(13)
            out.append(10)
            out.append(contentsOf: argument)
            out.append(13)
            out.append(10)
        }
    }

    /// Digits without a String per request: this runs for every RESP request sent.
    private func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &out) }
        out.append(UInt8(ascii: "0") + UInt8(value % 10))
    }

    private func append(_ word: [Piece], _ values: Values, into out: inout [UInt8]) {
        for piece in word {
            switch piece {
            case .literal(let bytes): out.append(contentsOf: bytes)
            case .slot(let slot): out.append(contentsOf: values.bytes(slot))
            }
        }
    }
}

/// The text protocol's PUT arguments (what follows `PUT `), values quoted as
/// docs/TEXT_PROTOCOL.md says, so any reading survives the line.
public enum TextPutArguments {
    public static func render(id: String, fields: KeyValuePairs<String, String>) -> String {
        ([id] + fields.map { "\($0.key)=\(quoted($0.value))" }).joined(separator: " ")
    }

    /// A double-quoted value: `"` and `\` escaped, line breaks as `\n`.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": break
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
