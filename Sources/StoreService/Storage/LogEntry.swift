import EpilogueProtocol
import EpilogueCompression
import NIOCore

/// One entry of the append-only record log. Layout (big-endian), see docs/STORAGE.md:
///
///     u32 crc32     zlib CRC-32 of every byte after this field
///     u32 length    number of bytes after this field
///     u8  kind      1 = put, 2 = delete
///     u16 id length, then the id bytes
///     u64 version
///     i64 updated_at (ms since epoch)
///     put only: u8 encoding, u32 dictionary id, u32 raw length, body (the rest)
public struct LogEntry: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case put = 1
        case delete = 2
    }

    public var kind: Kind
    public var id: String
    public var version: UInt64
    public var updatedAt: Int64
    public var encoding: BodyEncoding
    public var dictionaryID: UInt32
    public var rawLength: UInt32
    public var body: [UInt8]

    public static func put(id: String, version: UInt64, updatedAt: Int64, encoding: BodyEncoding,
                           dictionaryID: UInt32, rawLength: UInt32, body: [UInt8]) -> LogEntry {
        LogEntry(kind: .put, id: id, version: version, updatedAt: updatedAt, encoding: encoding,
                 dictionaryID: dictionaryID, rawLength: rawLength, body: body)
    }

    public static func delete(id: String, version: UInt64, updatedAt: Int64) -> LogEntry {
        LogEntry(kind: .delete, id: id, version: version, updatedAt: updatedAt, encoding: .plain,
                 dictionaryID: 0, rawLength: 0, body: [])
    }

    /// Bytes of the header before `length` counts: crc32 + length.
    static let prefixSize = 8
    /// Largest entry accepted when reading: a 64 KiB reading plus generous room for the rest.
    static let maximumLength: UInt32 = 1 << 20

    public func encode(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))  // crc, patched below
        buffer.writeInteger(UInt32(0))  // length, patched below
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt16(id.utf8.count))
        buffer.writeString(id)
        buffer.writeInteger(version)
        buffer.writeInteger(updatedAt)
        if kind == .put {
            buffer.writeInteger(encoding.rawValue)
            buffer.writeInteger(dictionaryID)
            buffer.writeInteger(rawLength)
            buffer.writeBytes(body)
        }
        let length = buffer.writerIndex - start - Self.prefixSize
        buffer.setInteger(UInt32(length), at: start + 4)
        let crc = buffer.withUnsafeReadableBytes { raw in
            Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[(start - buffer.readerIndex + 4)...]).bindMemory(to: UInt8.self))
        }
        buffer.setInteger(crc, at: start)
    }

    public func encoded() -> [UInt8] {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return Array(buffer: buffer)
    }

    /// The outcome of reading at one position of a log.
    public enum ReadResult: Equatable {
        case entry(LogEntry, size: Int)
        /// Not enough bytes for the entry the header announces: a torn write at the tail.
        case incomplete
        /// Checksum or structure is wrong.
        case corrupt(String)
    }

    /// Reads one entry from the start of `bytes`.
    public static func read(_ bytes: UnsafeRawBufferPointer) -> ReadResult {
        guard bytes.count >= prefixSize else { return .incomplete }
        let crc = bytes.loadBigEndian(UInt32.self, at: 0)
        let length = bytes.loadBigEndian(UInt32.self, at: 4)
        guard length >= 1 + 2 + 8 + 8, length <= maximumLength else { return .corrupt("implausible entry length \(length)") }
        guard bytes.count >= prefixSize + Int(length) else { return .incomplete }
        let covered = UnsafeRawBufferPointer(rebasing: bytes[4..<(prefixSize + Int(length))])
        guard Zlib.crc32(covered.bindMemory(to: UInt8.self)) == crc else { return .corrupt("checksum mismatch") }

        var cursor = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[prefixSize..<(prefixSize + Int(length))]))
        guard let rawKind: UInt8 = cursor.readInteger(), let kind = Kind(rawValue: rawKind) else { return .corrupt("unknown entry kind") }
        guard let idLength: UInt16 = cursor.readInteger(), let id = cursor.readString(length: Int(idLength)),
              let version: UInt64 = cursor.readInteger(), let updatedAt: Int64 = cursor.readInteger() else {
            return .corrupt("entry header is cut short")
        }
        var entry = LogEntry.delete(id: id, version: version, updatedAt: updatedAt)
        if kind == .put {
            guard let rawEncoding: UInt8 = cursor.readInteger(), let encoding = BodyEncoding(rawValue: rawEncoding),
                  let dictionaryID: UInt32 = cursor.readInteger(), let rawLength: UInt32 = cursor.readInteger() else {
                return .corrupt("put entry is cut short")
            }
            entry = .put(id: id, version: version, updatedAt: updatedAt, encoding: encoding, dictionaryID: dictionaryID,
                         rawLength: rawLength, body: cursor.readBytes(length: cursor.readableBytes) ?? [])
        } else if cursor.readableBytes != 0 {
            return .corrupt("delete entry has trailing bytes")
        }
        return .entry(entry, size: prefixSize + Int(length))
    }
}

extension UnsafeRawBufferPointer {
    func loadBigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
