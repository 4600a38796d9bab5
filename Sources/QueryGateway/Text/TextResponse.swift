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
            for part in line.split(separator: "\n", omittingEmptySubsequences: false) {
                let clean = part.hasSuffix("\r") ? part.dropLast() : part
                out += (clean.hasPrefix(".") ? "." : "") + clean + "\r\n"
            }
        }
        return out + ".\r\n"
    }

    /// Status lines must stay one line whatever a message contains.
    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
