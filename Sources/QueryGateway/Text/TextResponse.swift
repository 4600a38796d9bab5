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
    public var body: [String]

    public static func ok(_ summary: String? = nil, body: [String] = []) -> TextResponse {
        TextResponse(status: .ok(summary: summary), body: body)
    }

    public static func error(code: TextErrorCode, message: String) -> TextResponse {
        TextResponse(status: .error(code, message: message), body: [])
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

    /// Lines end with CRLF, which both `nc` and telnet show correctly.
    public func serialized() -> String {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return String(buffer: buffer)
    }

    /// Writes the answer as it goes on the wire. A body line holding CR or LF (CRLF, LF or a lone
    /// CR) goes out as several lines, each dot-stuffed on its own, so no break inside a value can
    /// forge the terminator. Works on the UTF-8 bytes in one pass: generic String/Sequence
    /// algorithms over a 1 KB reading were the largest share of a GET in the gateway (perf).
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeString(statusLine)
        buffer.writeStaticString("\r\n")
        for line in body { Self.writeBodyLine(line, into: &buffer) }
        Self.writeTerminator(into: &buffer)
    }

    /// One body line as it goes on the wire, for an answer written a line at a time (a streamed
    /// EXPORT): split at line breaks, each part dot-stuffed.
    public static func writeBodyLine(_ line: String, into buffer: inout ByteBuffer) {
        var line = line
        line.withUTF8 { bytes in
            var start = 0
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x0A || byte == 0x0D else {
                    index += 1
                    continue
                }
                writePhysicalLine(UnsafeBufferPointer(rebasing: bytes[start..<index]), into: &buffer)
                index += byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
                start = index
            }
            writePhysicalLine(UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]), into: &buffer)
        }
    }

    /// The line holding a single `.` that ends every answer.
    public static func writeTerminator(into buffer: inout ByteBuffer) {
        buffer.writeStaticString(".\r\n")
    }

    private static func writePhysicalLine(_ bytes: UnsafeBufferPointer<UInt8>, into buffer: inout ByteBuffer) {
        // Checked on bytes, not Characters: ".\u{301}" is one Character but still starts with a dot.
        if bytes.first == UInt8(ascii: ".") { buffer.writeInteger(UInt8(ascii: ".")) }
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
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
