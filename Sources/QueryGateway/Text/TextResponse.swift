/// One answer of the text protocol: a status line, body lines, and the `.` terminator.
///
///     OK 3 records          |  ERR NOT_FOUND no record with id 'x'
///     <body lines>          |  .
///     .
///
/// A body line that starts with `.` is sent with one more `.` in front, so the terminator is
/// unambiguous; a client strips one leading `.` from body lines (as POP3 and SMTP do).
public struct TextResponse: Equatable, Sendable {
    public var status: String
    public var body: [String]

    public static func ok(_ summary: String? = nil, body: [String] = []) -> TextResponse {
        TextResponse(status: summary.map { "OK \(Self.singleLine($0))" } ?? "OK", body: body)
    }

    public static func error(code: String, message: String) -> TextResponse {
        TextResponse(status: "ERR \(code) \(Self.singleLine(message))", body: [])
    }

    public var isError: Bool { status.hasPrefix("ERR ") }

    /// The error CODE, for metrics.
    public var errorCode: String? {
        guard isError else { return nil }
        return status.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init)
    }

    /// Lines end with CRLF, which both `nc` and telnet show correctly.
    public func serialized() -> String {
        var out = status + "\r\n"
        for line in body {
            for part in Self.physicalLines(line) {
                // Checked on bytes, not Characters: ".\u{301}" is one Character but still starts with a dot.
                if part.utf8.first == UInt8(ascii: ".") { out += "." }
                out += part
                out += "\r\n"
            }
        }
        return out + ".\r\n"
    }

    /// A body line holding CR or LF (CRLF, LF or a lone CR) goes out as several lines, each
    /// dot-stuffed on its own, so no break inside a value can forge the terminator. Split on
    /// bytes: as a Character "\r\n" is one grapheme and `split(separator: "\n")` misses it.
    static func physicalLines(_ line: String) -> [Substring] {
        let bytes = line.utf8
        guard bytes.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return [Substring(line)] }
        var parts: [Substring] = []
        var start = bytes.startIndex
        var index = start
        while index != bytes.endIndex {
            let byte = bytes[index]
            guard byte == 0x0A || byte == 0x0D else {
                index = bytes.index(after: index)
                continue
            }
            parts.append(Substring(line.utf8[start..<index]))
            index = bytes.index(after: index)
            if byte == 0x0D, index != bytes.endIndex, bytes[index] == 0x0A { index = bytes.index(after: index) }
            start = index
        }
        parts.append(Substring(line.utf8[start..<index]))
        return parts
    }

    /// Status lines must stay one line whatever a message contains (a store message, an echoed
    /// argument): CR, LF, other control characters and Unicode line separators become spaces.
    static func singleLine(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previous: Unicode.Scalar?
        for scalar in text.unicodeScalars {
            defer { previous = scalar }
            if scalar == "\n", previous == "\r" { continue }  // CRLF: one space, not two
            let isBreakOrControl = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}"
            out.append(isBreakOrControl ? " " : scalar)
        }
        return String(out)
    }
}
