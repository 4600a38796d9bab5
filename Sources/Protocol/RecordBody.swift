import EpilogueModel
import NIOCore

/// The binary form of `RecordContent`, used on the wire (PUT, RECORD) and, compressed, on disk:
/// string film, u16 year, string director, string subject, string reading, string source,
/// u8 sourceKind, list<string> themes.
public enum RecordBody {
    public static func write(_ content: RecordContent, to buffer: inout ByteBuffer) {
        buffer.writeWireString(content.film)
        buffer.writeInteger(UInt16(clamping: content.year))
        buffer.writeWireString(content.director)
        buffer.writeWireString(content.subject)
        buffer.writeWireString(content.reading)
        buffer.writeWireString(content.source)
        buffer.writeInteger(content.sourceKind.rawValue)
        buffer.writeWireList(content.themes) { $0.writeWireString($1) }
    }

    public static func encode(_ content: RecordContent) -> ByteBuffer {
        var buffer = ByteBuffer()
        write(content, to: &buffer)
        return buffer
    }

    public static func read(from reader: inout WireReader) throws -> RecordContent {
        let film = try reader.string("film")
        let year = Int(try reader.u16("year"))
        let director = try reader.string("director")
        let subject = try reader.string("subject")
        let reading = try reader.string("reading")
        let source = try reader.string("source")
        let kind = try reader.sourceKind()
        let themes = try reader.list("themes", minimumItemSize: 4) { try $0.string("theme") }
        return RecordContent(film: film, year: year, director: director, subject: subject, reading: reading,
                             source: source, sourceKind: kind, themes: themes)
    }

    /// Decodes a whole body; bytes left over are an error.
    public static func decode(_ buffer: ByteBuffer) throws -> RecordContent {
        var reader = WireReader(buffer)
        let content = try read(from: &reader)
        guard reader.buffer.readableBytes == 0 else {
            throw ProtocolError.invalidValue(field: "body", reason: "\(reader.buffer.readableBytes) trailing bytes")
        }
        return content
    }
}

extension WireReader {
    /// A `SourceKind` as its u8 raw value; an unknown kind is refused.
    mutating func sourceKind() throws -> SourceKind {
        let raw = try u8("sourceKind")
        guard let kind = SourceKind(rawValue: raw) else {
            throw ProtocolError.invalidValue(field: "sourceKind", reason: "unknown source kind \(raw)")
        }
        return kind
    }
}
