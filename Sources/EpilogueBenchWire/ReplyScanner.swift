/// Finds where one reply ends in bytes read from a server, for the three protocols the load
/// generator speaks. No I/O and no state between calls: the caller keeps unconsumed bytes and asks
/// again when more arrive, so a reply split over several reads is found once it is whole.
public enum ReplyFraming: String, Sendable, CaseIterable {
    /// Epilogue's text protocol: lines up to one holding a single `.`; a first line `ERR…` is an error.
    case text
    /// Redis RESP2/RESP3 replies; `-` (and RESP3 `!`) anywhere in the reply is an error, a nil is empty.
    case redis
    /// memcached text: `VALUE` blocks skipped by length up to `END`, or one status line
    /// (`STORED`, `NOT_FOUND`, …); `ERROR`/`CLIENT_ERROR`/`SERVER_ERROR`/`NOT_STORED` are errors.
    case memcached
}

/// What one whole reply was.
public enum ReplyOutcome: Equatable, Sendable {
    case ok
    /// A well-formed "nothing there": a RESP nil, a memcached `END` without a `VALUE`.
    case empty
    case error
}

public struct ScannedReply: Equatable, Sendable {
    /// Bytes the reply takes, from the start of the scanned buffer.
    public var length: Int
    public var outcome: ReplyOutcome
    public init(length: Int, outcome: ReplyOutcome) {
        self.length = length
        self.outcome = outcome
    }
}

/// A reply the scanner cannot frame: the connection's byte stream cannot be trusted after it.
public struct MalformedReply: Error, Equatable, CustomStringConvertible {
    public var description: String
}

public struct ReplyScanner: Sendable {
    public let framing: ReplyFraming

    public init(framing: ReplyFraming) {
        self.framing = framing
    }

    /// The first reply in `bytes`, or nil while it is incomplete.
    public func scan(_ bytes: UnsafeRawBufferPointer) throws(MalformedReply) -> ScannedReply? {
        var cursor = Cursor(bytes: bytes)
        switch framing {
        case .text: return cursor.textReply()
        case .redis:
            guard let outcome = try cursor.respValue(depth: 0) else { return nil }
            return ScannedReply(length: cursor.position, outcome: outcome)
        case .memcached: return try cursor.memcachedReply()
        }
    }

    /// Convenience for tests and small callers.
    public func scan(_ bytes: [UInt8]) throws(MalformedReply) -> ScannedReply? {
        try bytes.withUnsafeBytes { raw in Result { () throws(MalformedReply) in try scan(raw) } }.get()
    }
}

/// A read position over a buffer with line and length helpers.
private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var position = 0

    /// The next line without its LF (and CR), advancing past the LF; nil if no LF yet.
    mutating func line() -> UnsafeRawBufferPointer.SubSequence? {
        var index = position
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                var end = index
                if end > position, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = bytes[position..<end]
                position = index + 1
                return line
            }
            index += 1
        }
        return nil
    }

    mutating func textReply() -> ScannedReply? {
        var outcome = ReplyOutcome.ok
        var first = true
        while let line = line() {
            if first {
                if line.starts(with: "ERR".utf8) { outcome = .error }
                first = false
            }
            if line.count == 1, line.first == UInt8(ascii: ".") {
                return ScannedReply(length: position, outcome: outcome)
            }
        }
        return nil
    }

    /// One RESP value; nil when incomplete. Nested arrays, maps, sets and pushes are walked.
    mutating func respValue(depth: Int) throws(MalformedReply) -> ReplyOutcome? {
        guard depth < 32 else { throw MalformedReply(description: "RESP nesting deeper than 32") }
        guard let line = line() else { return nil }
        guard let type = line.first else { throw MalformedReply(description: "empty RESP line") }
        let rest = line.dropFirst()
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "#"), UInt8(ascii: "("):
            return .ok
        case UInt8(ascii: "_"):
            return .empty
        case UInt8(ascii: "-"):
            return .error
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try Self.integer(rest)
            if length < 0 { return .empty }
            guard bytes.count - position >= length + 2 else { return nil }
            position += length + 2
            return type == UInt8(ascii: "!") ? .error : .ok
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let count = try Self.integer(rest)
            if count < 0 { return .empty }
            let elements = type == UInt8(ascii: "%") || type == UInt8(ascii: "|") ? count * 2 : count
            var outcome = ReplyOutcome.ok
            for _ in 0..<elements {
                guard let element = try respValue(depth: depth + 1) else { return nil }
                if element == .error { outcome = .error }
            }
            return outcome
        default:
            throw MalformedReply(description: "unknown RESP type byte \(type)")
        }
    }

    mutating func memcachedReply() throws(MalformedReply) -> ScannedReply? {
        var values = 0
        while let line = line() {
            if line.starts(with: "VALUE ".utf8) {
                // VALUE <key> <flags> <bytes> [<cas>]: the data block is skipped by length, so
                // data that happens to hold "END" lines cannot end the reply early.
                let fields = line.split(separator: UInt8(ascii: " "))
                guard fields.count >= 4 else { throw MalformedReply(description: "short VALUE line") }
                let length = try Self.integer(fields[3])
                guard bytes.count - position >= length + 2 else { return nil }
                position += length + 2
                values += 1
                continue
            }
            let outcome: ReplyOutcome
            if line.elementsEqual("END".utf8) {
                outcome = values == 0 ? .empty : .ok
            } else if line.starts(with: "ERROR".utf8) || line.starts(with: "CLIENT_ERROR".utf8)
                        || line.starts(with: "SERVER_ERROR".utf8) || line.elementsEqual("NOT_STORED".utf8) {
                outcome = .error
            } else if line.elementsEqual("NOT_FOUND".utf8) {
                outcome = .empty
            } else {
                outcome = .ok  // STORED, DELETED, TOUCHED, EXISTS, OK, a number from incr/decr
            }
            return ScannedReply(length: position, outcome: outcome)
        }
        return nil
    }

    static func integer(_ digits: UnsafeRawBufferPointer.SubSequence) throws(MalformedReply) -> Int {
        var value = 0
        var negative = false
        var sawDigit = false
        for (offset, byte) in digits.enumerated() {
            if offset == 0, byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), value < Int.max / 10 - 10 else {
                throw MalformedReply(description: "bad length in reply")
            }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
            sawDigit = true
        }
        guard sawDigit else { throw MalformedReply(description: "missing length in reply") }
        return negative ? -value : value
    }
}
