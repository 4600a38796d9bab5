import NIOCore

/// Reads the v1 primitive types from a payload, turning every short read or bad value into a
/// `ProtocolError`. Lengths are checked against the bytes actually present before any
/// allocation, so a hostile length can't make us reserve memory.
public struct WireReader {
    public var buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    public mutating func u8(_ field: String) throws -> UInt8 {
        guard let value: UInt8 = buffer.readInteger() else { throw ProtocolError.truncated(field) }
        return value
    }

    public mutating func u16(_ field: String) throws -> UInt16 {
        guard let value: UInt16 = buffer.readInteger() else { throw ProtocolError.truncated(field) }
        return value
    }

    public mutating func u32(_ field: String) throws -> UInt32 {
        guard let value: UInt32 = buffer.readInteger() else { throw ProtocolError.truncated(field) }
        return value
    }

    public mutating func u64(_ field: String) throws -> UInt64 {
        guard let value: UInt64 = buffer.readInteger() else { throw ProtocolError.truncated(field) }
        return value
    }

    public mutating func i64(_ field: String) throws -> Int64 {
        guard let value: Int64 = buffer.readInteger() else { throw ProtocolError.truncated(field) }
        return value
    }

    public mutating func f64(_ field: String) throws -> Double {
        Double(bitPattern: try u64(field))
    }

    public mutating func bool(_ field: String) throws -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw ProtocolError.invalidValue(field: field, reason: "boolean byte must be 0 or 1, got \(other)")
        }
    }

    /// `bytes`: u32 length, then that many bytes.
    public mutating func bytes(_ field: String) throws -> ByteBuffer {
        let length = try u32(field)
        guard Int(length) <= buffer.readableBytes, let slice = buffer.readSlice(length: Int(length)) else {
            throw ProtocolError.truncated(field)
        }
        return slice
    }

    /// `string`: a `bytes` holding valid UTF-8.
    public mutating func string(_ field: String) throws -> String {
        let slice = try bytes(field)
        guard let value = try? slice.getUTF8ValidatedString(at: slice.readerIndex, length: slice.readableBytes) ?? nil else {
            throw ProtocolError.invalidUTF8(field)
        }
        return value
    }

    /// `optional<T>`: u8 0 (absent) or 1 followed by T.
    public mutating func optional<T>(_ field: String, _ read: (inout WireReader) throws -> T) throws -> T? {
        guard try bool(field) else { return nil }
        return try read(&self)
    }

    /// `list<T>`: u32 count, then the items. Every item takes at least `minimumItemSize` bytes,
    /// so a count larger than the remaining bytes allow is rejected before reserving anything.
    public mutating func list<T>(_ field: String, minimumItemSize: Int = 1, _ read: (inout WireReader) throws -> T) throws -> [T] {
        let count = try u32(field)
        guard Int(count) * minimumItemSize <= buffer.readableBytes else { throw ProtocolError.truncated(field) }
        var items: [T] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count { items.append(try read(&self)) }
        return items
    }

    public func expectEnd(messageType: UInt8) throws {
        guard buffer.readableBytes == 0 else {
            throw ProtocolError.trailingBytes(messageType: messageType, count: buffer.readableBytes)
        }
    }
}

extension ByteBuffer {
    @inlinable mutating func writeWireBytes(_ bytes: ByteBuffer) {
        writeInteger(UInt32(bytes.readableBytes))
        var bytes = bytes
        writeBuffer(&bytes)
    }

    @inlinable mutating func writeWireBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(bytes.count))
        writeBytes(bytes)
    }

    @inlinable mutating func writeWireString(_ string: String) {
        writeInteger(UInt32(string.utf8.count))
        writeString(string)
    }

    @inlinable mutating func writeWireBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }

    @inlinable mutating func writeWireOptional<T>(_ value: T?, _ write: (inout ByteBuffer, T) -> Void) {
        if let value {
            writeInteger(UInt8(1))
            write(&self, value)
        } else {
            writeInteger(UInt8(0))
        }
    }

    @inlinable mutating func writeWireList<T>(_ items: [T], _ write: (inout ByteBuffer, T) -> Void) {
        writeInteger(UInt32(items.count))
        for item in items { write(&self, item) }
    }
}
