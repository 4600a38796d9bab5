import NIOCore

/// Constants of wire protocol v1. See docs/PROTOCOL.md.
public enum WireProtocol {
    /// The only version this code speaks.
    public static let version: UInt16 = 1
    /// Every version this code speaks; VERSION_UNSUPPORTED lists them as data.
    public static let versions: [UInt16] = [version]
    /// "EPIL": first four bytes of a HELLO payload, so a stray client is recognised at once.
    public static let magic: UInt32 = 0x4550_494C
    /// type (1) + flags (1) + request id (4).
    public static let headerSize = 6
    /// Bytes after the length prefix (the prefix itself does not count); checked before anything
    /// is allocated. Also the limit a client applies before READY announces the server's.
    public static let defaultMaximumFrameSize: UInt32 = 1 << 20
    public static let nonceSize = 32
    public static let proofSize = 32
}

/// Frame flag bits. Unknown bits are a protocol error (v1 assigns only these).
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// More response frames for the same request id follow this one.
    public static let streamContinues = FrameFlags(rawValue: 0x01)
    /// The header carries a u64 trace id after the request id (set by the gateway so one
    /// command can be followed through both services' logs).
    public static let traced = FrameFlags(rawValue: 0x02)

    public static let known: FrameFlags = [.streamContinues, .traced]
}

/// One length-prefixed frame: the unit the framing layer deals in. The payload is not yet
/// interpreted; `ClientMessage` and `ServerMessage` give it meaning.
public struct Frame: Sendable, Equatable {
    public var type: UInt8
    public var flags: FrameFlags
    public var requestID: UInt32
    /// Present exactly when `flags` contains `.traced`.
    public var traceID: UInt64?
    public var payload: ByteBuffer

    public init(type: UInt8, flags: FrameFlags = [], requestID: UInt32, traceID: UInt64? = nil, payload: ByteBuffer) {
        self.type = type
        self.flags = traceID == nil ? flags.subtracting(.traced) : flags.union(.traced)
        self.requestID = requestID
        self.traceID = traceID
        self.payload = payload
    }

    /// Appends the frame's bytes: u32 length, u8 type, u8 flags, u32 request id,
    /// [u64 trace id when flagged], payload.
    public func write(to buffer: inout ByteBuffer) {
        let traceBytes = traceID == nil ? 0 : 8
        buffer.writeInteger(UInt32(WireProtocol.headerSize + traceBytes + payload.readableBytes))
        buffer.writeInteger(type)
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(requestID)
        if let traceID { buffer.writeInteger(traceID) }
        var payload = payload
        buffer.writeBuffer(&payload)
    }
}

/// Splits a byte stream into frames. Single-step: it returns nil and consumes nothing until a
/// whole frame is buffered, and rejects an oversized length before buffering its body.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    public let maximumFrameSize: UInt32

    public init(maximumFrameSize: UInt32 = WireProtocol.defaultMaximumFrameSize) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= UInt32(WireProtocol.headerSize) else { throw ProtocolError.frameTooShort(declared: length) }
        guard length <= maximumFrameSize else {
            throw ProtocolError.frameTooLarge(declared: length, maximum: maximumFrameSize)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let type: UInt8 = buffer.readInteger()!
        let rawFlags: UInt8 = buffer.readInteger()!
        let requestID: UInt32 = buffer.readInteger()!
        var payload = buffer.readSlice(length: Int(length) - WireProtocol.headerSize)!
        let flags = FrameFlags(rawValue: rawFlags)
        // From here on the request id is known: errors carry it (PROTOCOL.md §1, one rule for ERROR ids).
        guard FrameFlags.known.isSuperset(of: flags) else {
            throw FrameDecodingError(requestID: requestID, reason: .unknownFlags(rawFlags))
        }
        var traceID: UInt64?
        if flags.contains(.traced) {
            guard let id: UInt64 = payload.readInteger() else {
                throw FrameDecodingError(requestID: requestID, reason: .truncated("trace id"))
            }
            traceID = id
        }
        return Frame(type: type, flags: flags, requestID: requestID, traceID: traceID, payload: payload)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        try decode(buffer: &buffer)
    }
}

/// A frame whose header was read (so its request id is known) but which is still malformed:
/// unknown flag bits or a trace id cut short. Errors before the header (a bad length) are plain
/// `ProtocolError`s and have no request id.
public struct FrameDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var requestID: UInt32
    public var reason: ProtocolError

    public init(requestID: UInt32, reason: ProtocolError) {
        self.requestID = requestID
        self.reason = reason
    }

    public var description: String { reason.description }
}

/// Writes frames to the byte stream.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        data.write(to: &out)
    }
}
