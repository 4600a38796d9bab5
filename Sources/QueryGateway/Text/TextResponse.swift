import NIOCore
/// One answer of the text protocol: a status line, body lines, and the `.` terminator.
///
///     OK 3 records          |  ERR NOT_FOUND no record with id 'x'
///     <body lines>          |  .
///     .
///
/// A body line that starts with `.` is sent with one more `.` in front, so the terminator is
/// unambiguous; a client strips one leading `.` from body lines (as POP3 and SMTP do).
public struct TextResponse: Equatable, Sendable {
    /// What the status line says; `statusLine` renders it.
    public enum Status: Equatable, Sendable {
        case ok(summary: String?)
        case error(TextErrorCode, message: String)
    }

    public var status: Status
    public var body: TextBody

    public static func ok(_ summary: String? = nil, body: TextBody = TextBody()) -> TextResponse {
        TextResponse(status: .ok(summary: summary), body: body)
    }

    public static func ok(_ summary: String? = nil, body: [String]) -> TextResponse {
        ok(summary, body: TextBody(lines: body))
    }

    public static func error(code: TextErrorCode, message: String) -> TextResponse {
        TextResponse(status: .error(code, message: message), body: TextBody())
    }

    public var isError: Bool { errorCode != nil }

    /// The error CODE, for metrics and logs.
    public var errorCode: TextErrorCode? {
        if case .error(let code, _) = status { return code }
        return nil
    }

    /// `OK`, `OK <summary>` or `ERR <CODE> <message>`, always one line.
    public var statusLine: String {
        switch status {
        case .ok(let summary?): return "OK \(Self.singleLine(summary))"
        case .ok(nil): return "OK"
        case .error(let code, let message): return "ERR \(code.rawValue) \(Self.singleLine(message))"
        }
    }

    /// `statusLine` without building it as a string first.
    func writeStatusLine(into buffer: inout ByteBuffer) {
        switch status {
        case .ok(let summary?):
            buffer.writeStaticString("OK ")
            buffer.writeString(Self.singleLine(summary))
        case .ok(nil):
            buffer.writeStaticString("OK")
        case .error(let code, let message):
            buffer.writeStaticString("ERR ")
            buffer.writeString(code.rawValue)
            buffer.writeInteger(UInt8(ascii: " "))
            buffer.writeString(Self.singleLine(message))
        }
    }

    /// Lines end with CRLF, which both `nc` and telnet show correctly.
    public func serialized() -> String {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Writes the answer as it goes on the wire: the body is already framed (`TextBody`: a break
    /// inside a value starts a new, dot-stuffed line, so no value can forge the terminator).
    public func write(into buffer: inout ByteBuffer) {
        writeStatusLine(into: &buffer)
        buffer.writeStaticString("\r\n")
        buffer.writeImmutableBuffer(body.bytes)
        Self.writeTerminator(into: &buffer)
    }

    /// The bytes `write(into:)` writes, for a buffer that takes them without growing.
    public var wireSizeEstimate: Int { body.bytes.readableBytes + 128 }

    /// The line holding a single `.` that ends every answer.
    public static func writeTerminator(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(".\r\n")
    }

    /// Status lines must stay one line whatever a message contains (a store message, an echoed
    /// argument): CR, LF, other control characters and Unicode line separators become spaces.
    static func singleLine(_ text: String) -> String {
        // Most summaries (a GET's id) are printable ASCII: nothing to replace, no copy.
        guard !text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return text }
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
