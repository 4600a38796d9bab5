import Foundation
import NIOCore

/// An answer's body as it goes on the wire: every line split at its breaks (CRLF, LF or a lone
/// CR), each physical line dot-stuffed (one more `.` in front of a line that starts with `.`) and
/// ended with CRLF. Renderers write into it as they go, so an answer's bytes are made once, not
/// first as `[String]` lines and then copied out of them (the text path of a GET, perf).
public struct TextBody: Equatable, Sendable {
    public private(set) var bytes: ByteBuffer

    public init(capacity: Int = 0) {
        bytes = ByteBufferAllocator().buffer(capacity: capacity)
    }

    public init(lines: [String]) {
        self.init(capacity: lines.reduce(0) { $0 + $1.utf8.count + 2 })
        for line in lines { appendLine(line) }
    }

    public var isEmpty: Bool { bytes.readableBytes == 0 }

    /// The body lines a client reads back: split at CRLF, one leading `.` stripped.
    public var lines: [String] {
        var lines: [String] = []
        var view = bytes.readableBytesView[...]
        while let end = view.firstIndex(of: UInt8(ascii: "\r")) {
            var line = view[..<end]
            if line.first == UInt8(ascii: ".") { line = line.dropFirst() }
            lines.append(String(decoding: line, as: UTF8.self))
            view = view[min(end + 2, view.endIndex)...]
        }
        return lines
    }

    public mutating func appendLine(_ line: String) {
        appendLine(prefix: "", line)
    }

    /// `prefix` and `value` as one line: the prefix (no break in it) starts its first physical
    /// line; breaks in the value start further ones.
    mutating func appendLine(prefix: StaticString, _ value: String) {
        var value = value
        value.withUTF8 { appendLine(prefix: prefix, $0) }
    }

    mutating func appendLine(prefix: StaticString, _ value: UnsafeBufferPointer<UInt8>) {
        // Most values hold no break: two memchr scans instead of a loop over every byte (perf).
        guard Self.containsBreak(value) else { return appendPhysicalLine(prefix: prefix, value) }
        var start = 0
        var index = 0
        var first = true
        while index < value.count {
            let byte = value[index]
            guard byte == 0x0A || byte == 0x0D else {
                index += 1
                continue
            }
            appendPhysicalLine(prefix: first ? prefix : "", UnsafeBufferPointer(rebasing: value[start..<index]))
            first = false
            index += byte == 0x0D && index + 1 < value.count && value[index + 1] == 0x0A ? 2 : 1
            start = index
        }
        appendPhysicalLine(prefix: first ? prefix : "", UnsafeBufferPointer(rebasing: value[start..<value.count]))
    }

    static func containsBreak(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
        return memchr(base, 0x0A, bytes.count) != nil || memchr(base, 0x0D, bytes.count) != nil
    }

    /// A line its writer puts straight into the buffer, for one that can hold no CR or LF and
    /// cannot start with `.` (a JSON object): no scan for breaks.
    mutating func appendUnbrokenLine(_ write: (inout ByteBuffer) -> Void) {
        let start = bytes.writerIndex
        write(&bytes)
        assert(bytes.getInteger(at: start, as: UInt8.self) != UInt8(ascii: "."), "an unbroken line starting with a dot")
        bytes.writeStaticString("\r\n")
    }

    private mutating func appendPhysicalLine(prefix: StaticString, _ value: UnsafeBufferPointer<UInt8>) {
        // Checked on bytes, not Characters: ".\u{301}" is one Character but still starts with a dot.
        let firstByte = prefix.utf8CodeUnitCount > 0 ? prefix.utf8Start.pointee : value.first
        if firstByte == UInt8(ascii: ".") { bytes.writeInteger(UInt8(ascii: ".")) }
        if prefix.utf8CodeUnitCount > 0 { bytes.writeStaticString(prefix) }
        bytes.writeBytes(UnsafeRawBufferPointer(value))
        bytes.writeStaticString("\r\n")
    }
}
