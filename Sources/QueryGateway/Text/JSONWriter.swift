import NIOCore

/// Compact JSON values written straight into a `ByteBuffer`, byte for byte what Foundation's
/// `JSONSerialization` wrote on Linux with `[.sortedKeys, .withoutEscapingSlashes]` (the text
/// protocol's JSON until it cost more than the rest of a GET; clients, files and IMPORT read it):
///
/// - strings: `"` and `\` escaped, `\b \f \n \r \t` by name, the other controls below U+0020 as
///   `\u00xx` in lowercase hex; `/`, DEL, U+2028/U+2029 and all non-ASCII go out as their UTF-8;
/// - integers in decimal; a `Double` as Swift's `description` less a trailing `.0` (`-1.5`, `2`,
///   `1e-06`); JSONSerialization refused non-finite numbers, so callers check `isFinite`.
///
/// Objects are written by their renderers key by key, in the order `.sortedKeys` gave (numeric,
/// case-insensitive); `TextRendererJSONOracleTests` pins the bytes against JSONSerialization.
enum JSONWriter {
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        var string = string
        buffer.writeInteger(UInt8(ascii: "\""))
        string.withUTF8 { bytes in
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<index]))
                writeEscape(byte, into: &buffer)
                start = index + 1
            }
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<bytes.count]))
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    static func writeStringArray(_ strings: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, string) in strings.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            writeString(string, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    static func writeInteger(_ value: some BinaryInteger, into buffer: inout ByteBuffer) {
        buffer.writeString(value.description)
    }

    /// A finite double (see the type's note).
    static func writeNumber(_ value: Double, into buffer: inout ByteBuffer) {
        assert(value.isFinite)
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        buffer.writeString(text)
    }

    /// `{"key":` or `,"key":` (as written in the source) and the value: one member of an object.
    static func writeMember(_ keyWithPunctuation: StaticString, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(keyWithPunctuation)
        writeString(value, into: &buffer)
    }

    static func writeMember(_ keyWithPunctuation: StaticString, _ value: some BinaryInteger, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(keyWithPunctuation)
        writeInteger(value, into: &buffer)
    }

    static func writeMember(_ keyWithPunctuation: StaticString, _ value: Double, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(keyWithPunctuation)
        writeNumber(value, into: &buffer)
    }

    static func writeMember(_ keyWithPunctuation: StaticString, _ value: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString(keyWithPunctuation)
        writeStringArray(value, into: &buffer)
    }

    private static func writeEscape(_ byte: UInt8, into buffer: inout ByteBuffer) {
        switch byte {
        case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
        case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
        case 0x08: buffer.writeStaticString(#"\b"#)
        case 0x0C: buffer.writeStaticString(#"\f"#)
        case 0x0A: buffer.writeStaticString(#"\n"#)
        case 0x0D: buffer.writeStaticString(#"\r"#)
        case 0x09: buffer.writeStaticString(#"\t"#)
        default:
            let hex: StaticString = "0123456789abcdef"
            buffer.writeStaticString(#"\u00"#)
            buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
            buffer.writeInteger(hex.utf8Start[Int(byte & 0x0F)])
        }
    }
}
