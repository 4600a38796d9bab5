/// The binary form of `RecordContent`: string film, u16 year, string director, string subject,
/// string reading, string source, u8 sourceKind, list<string> themes (integers big-endian; a
/// string is a u32 length and that many UTF-8 bytes, a list a u32 count and the items). It is
/// what the store compresses and keeps on disk, so it lives with the record rather than in the
/// wire protocol, which carries the same bytes in PUT and RECORD (see EpilogueProtocol's
/// `RecordBody` extension).
public enum RecordBody {
    /// `content`'s bytes, appended to `bytes`.
    public static func append(_ content: RecordContent, to bytes: inout [UInt8]) {
        appendString(content.film, to: &bytes)
        appendInteger(UInt16(clamping: content.year), to: &bytes)
        appendString(content.director, to: &bytes)
        appendString(content.subject, to: &bytes)
        appendString(content.reading, to: &bytes)
        appendString(content.source, to: &bytes)
        bytes.append(content.sourceKind.rawValue)
        appendInteger(UInt32(content.themes.count), to: &bytes)
        for theme in content.themes { appendString(theme, to: &bytes) }
    }

    public static func bytes(of content: RecordContent) -> [UInt8] {
        var bytes: [UInt8] = []
        append(content, to: &bytes)
        return bytes
    }

    /// Decodes a whole body; bytes left over are an error.
    public static func content(of bytes: [UInt8]) throws(RecordBodyError) -> RecordContent {
        let (content, consumed) = try bytes.withUnsafeBytes { raw in Result { () throws(RecordBodyError) in try read(raw) } }.get()
        guard consumed == bytes.count else { throw .trailingBytes(bytes.count - consumed) }
        return content
    }

    /// The content at the start of `bytes` and how many bytes it took (a PUT carries more after it).
    public static func read(_ bytes: UnsafeRawBufferPointer) throws(RecordBodyError) -> (content: RecordContent, consumed: Int) {
        var reader = Reader(bytes: bytes)
        let film = try reader.string("film")
        let year = Int(try reader.u16("year"))
        let director = try reader.string("director")
        let subject = try reader.string("subject")
        let reading = try reader.string("reading")
        let source = try reader.string("source")
        let rawKind = try reader.u8("sourceKind")
        guard let kind = SourceKind(rawValue: rawKind) else {
            throw .invalidValue(field: "sourceKind", reason: "unknown source kind \(rawKind)")
        }
        let count = try reader.u32("themes")
        // Every theme takes at least its 4-byte length: a hostile count is refused before reserving.
        guard Int(count) * 4 <= reader.remaining else { throw .truncated("themes") }
        var themes: [String] = []
        themes.reserveCapacity(Int(count))
        for _ in 0..<count { themes.append(try reader.string("theme")) }
        let content = RecordContent(film: film, year: year, director: director, subject: subject, reading: reading,
                                    source: source, sourceKind: kind, themes: themes)
        return (content, reader.offset)
    }

    private static func appendInteger<I: FixedWidthInteger>(_ value: I, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendString(_ string: String, to bytes: inout [UInt8]) {
        appendInteger(UInt32(string.utf8.count), to: &bytes)
        bytes.append(contentsOf: string.utf8)
    }

    /// Bounds-checked big-endian reads; every short read names the field it was in.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func u8(_ field: String) throws(RecordBodyError) -> UInt8 {
            try integer(UInt8.self, field)
        }

        mutating func u16(_ field: String) throws(RecordBodyError) -> UInt16 {
            try integer(UInt16.self, field)
        }

        mutating func u32(_ field: String) throws(RecordBodyError) -> UInt32 {
            try integer(UInt32.self, field)
        }

        private mutating func integer<I: FixedWidthInteger>(_: I.Type, _ field: String) throws(RecordBodyError) -> I {
            let size = MemoryLayout<I>.size
            guard size <= remaining else { throw .truncated(field) }
            var value: I = 0
            for byte in bytes[offset..<(offset + size)] { value = value << 8 | I(byte) }
            offset += size
            return value
        }

        /// A u32 length, then that many bytes of valid UTF-8.
        mutating func string(_ field: String) throws(RecordBodyError) -> String {
            let length = Int(try u32(field))
            guard length <= remaining else { throw .truncated(field) }
            let utf8 = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
            // (Validating in one pass: decoding with repairs and comparing the bytes back through
            // the UTF-8 view cost a GET, or a search's snippets, a tenth of their time.)
            guard let string = String(validating: utf8, as: UTF8.self) else { throw .invalidUTF8(field) }
            offset += length
            return string
        }
    }
}

/// Why bytes are not a `RecordBody`: the same cases, and field names, as the wire protocol's
/// `ProtocolError` for a payload, which a body inside a frame is reported as.
public enum RecordBodyError: Error, Equatable, Sendable {
    case truncated(String)
    case invalidUTF8(String)
    case invalidValue(field: String, reason: String)
    case trailingBytes(Int)
}

/// How a record body travels: as is, or compressed exactly as the store keeps it on disk.
public enum BodyEncoding: UInt8, Sendable {
    case plain = 0
    /// A zlib stream (RFC 1950) made with the preset dictionary `dictionaryID` (built-in ids).
    case zlib = 1
    /// Raw deflate (RFC 1951) made with the preset dictionary `dictionaryID` (trained ids, >= 1000).
    case deflate = 2
}
