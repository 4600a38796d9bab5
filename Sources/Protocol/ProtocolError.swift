/// Why bytes from the peer could not be understood. Every malformed input ends here: the
/// decoders never trap, and the connection that produced one is answered (when possible) and closed.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case frameTooLarge(declared: UInt32, maximum: UInt32)
    case frameTooShort(declared: UInt32)
    case unknownFlags(UInt8)
    case unknownMessageType(UInt8)
    case unexpectedMessageType(UInt8)
    case truncated(String)
    case invalidUTF8(String)
    case invalidValue(field: String, reason: String)
    case trailingBytes(messageType: UInt8, count: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let declared, let maximum): return "frame of \(declared) bytes exceeds the maximum of \(maximum)"
        case .frameTooShort(let declared): return "frame length \(declared) is shorter than the 6-byte header"
        case .unknownFlags(let flags): return "unknown frame flags 0x\(String(flags, radix: 16))"
        case .unknownMessageType(let type): return "unknown message type 0x\(String(type, radix: 16))"
        case .unexpectedMessageType(let type): return "message type 0x\(String(type, radix: 16)) is not valid in this direction or state"
        case .truncated(let what): return "payload ends inside \(what)"
        case .invalidUTF8(let what): return "\(what) is not valid UTF-8"
        case .invalidValue(let field, let reason): return "\(field): \(reason)"
        case .trailingBytes(let type, let count): return "\(count) unexpected bytes after message 0x\(String(type, radix: 16))"
        }
    }
}
