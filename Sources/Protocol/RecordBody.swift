import EpilogueModel
import NIOCore

// The record body (EpilogueModel's `RecordBody`, the store's on-disk form too) inside frames:
// PUT and IMPORT carry it inline, RECORD as its `body`.
extension RecordBody {
    public static func write(_ content: RecordContent, to buffer: inout ByteBuffer) {
        buffer.writeBytes(bytes(of: content))
    }

    public static func encode(_ content: RecordContent) -> ByteBuffer {
        ByteBuffer(bytes: bytes(of: content))
    }

    /// The body at the reader's position; the reader moves past it.
    public static func read(from reader: inout WireReader) throws(ProtocolError) -> RecordContent {
        let (content, consumed) = try decodePrefix(reader.buffer)
        reader.buffer.moveReaderIndex(forwardBy: consumed)
        return content
    }

    /// Decodes a whole body; bytes left over are an error.
    public static func decode(_ buffer: ByteBuffer) throws(ProtocolError) -> RecordContent {
        let (content, consumed) = try decodePrefix(buffer)
        guard consumed == buffer.readableBytes else {
            throw .invalidValue(field: "body", reason: "\(buffer.readableBytes - consumed) trailing bytes")
        }
        return content
    }

    private static func decodePrefix(_ buffer: ByteBuffer) throws(ProtocolError) -> (content: RecordContent, consumed: Int) {
        let read = buffer.withUnsafeReadableBytes { bytes in Result { () throws(RecordBodyError) in try RecordBody.read(bytes) } }
        switch read {
        case .success(let body): return body
        // The same cases and field names as the wire reader's, so a bad body inside a frame reads as before.
        case .failure(.truncated(let field)): throw .truncated(field)
        case .failure(.invalidUTF8(let field)): throw .invalidUTF8(field)
        case .failure(.invalidValue(let field, let reason)): throw .invalidValue(field: field, reason: reason)
        case .failure(.trailingBytes(let count)): throw .invalidValue(field: "body", reason: "\(count) trailing bytes")
        }
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
