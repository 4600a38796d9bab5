import EpilogueCompression
import EpilogueModel

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

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.prefixSize + 1 + 2 + id.utf8.count + 8 + 8 + (kind == .put ? 1 + 4 + 4 + body.count : 0))
        bytes.append(contentsOf: [0, 0, 0, 0, 0, 0, 0, 0])  // crc and length, patched below
        bytes.append(kind.rawValue)
        bytes.appendBigEndian(UInt16(id.utf8.count))
        bytes.append(contentsOf: id.utf8)
        bytes.appendBigEndian(version)
        bytes.appendBigEndian(updatedAt)
        if kind == .put {
            bytes.append(encoding.rawValue)
            bytes.appendBigEndian(dictionaryID)
            bytes.appendBigEndian(rawLength)
            bytes.append(contentsOf: body)
        }
        bytes.setBigEndian(UInt32(bytes.count - Self.prefixSize), at: 4)
        bytes.setBigEndian(Zlib.crc32(bytes[4...]), at: 0)
        return bytes
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

        var cursor = Cursor(bytes: UnsafeRawBufferPointer(rebasing: bytes[prefixSize..<(prefixSize + Int(length))]))
        guard let rawKind = cursor.read(UInt8.self), let kind = Kind(rawValue: rawKind) else { return .corrupt("unknown entry kind") }
        guard let idLength = cursor.read(UInt16.self), let id = cursor.readString(length: Int(idLength)),
              let version = cursor.read(UInt64.self), let updatedAt = cursor.read(Int64.self) else {
            return .corrupt("entry header is cut short")
        }
        var entry = LogEntry.delete(id: id, version: version, updatedAt: updatedAt)
        if kind == .put {
            guard let rawEncoding = cursor.read(UInt8.self), let encoding = BodyEncoding(rawValue: rawEncoding),
                  let dictionaryID = cursor.read(UInt32.self), let rawLength = cursor.read(UInt32.self) else {
                return .corrupt("put entry is cut short")
            }
            entry = .put(id: id, version: version, updatedAt: updatedAt, encoding: encoding, dictionaryID: dictionaryID,
                         rawLength: rawLength, body: cursor.readRest())
        } else if cursor.remaining != 0 {
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

/// Reads an entry's fields in order; nil when the bytes end first.
private struct Cursor {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        guard MemoryLayout<T>.size <= remaining else { return nil }
        defer { offset += MemoryLayout<T>.size }
        return bytes.loadBigEndian(T.self, at: offset)
    }

    /// `length` bytes of UTF-8 (invalid sequences repaired, as ByteBuffer.readString did).
    mutating func readString(length: Int) -> String? {
        guard length <= remaining else { return nil }
        defer { offset += length }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]), as: UTF8.self)
    }

    mutating func readRest() -> [UInt8] {
        defer { offset = bytes.count }
        return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset...]))
    }
}

extension [UInt8] {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    mutating func setBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.bigEndian) { replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }
}
