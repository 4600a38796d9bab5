/// Stable numeric error codes carried by the ERROR message. Numbers never change meaning;
/// the gateway maps each to the upper-case name it prints (`ERR NOT_FOUND …`).
public enum ErrorCode: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case badRequest = 1
    case notFound = 2
    case conflict = 3
    case tooLarge = 4
    case unauthorized = 5
    case versionUnsupported = 6
    case invalidRecord = 7
    case storageFull = 8
    case internalError = 9
    case unknownMessage = 10
    case shuttingDown = 11
    case busy = 12
    case protocolViolation = 13

    /// The name the text protocol shows.
    public var name: String {
        switch self {
        case .badRequest: return "BAD_REQUEST"
        case .notFound: return "NOT_FOUND"
        case .conflict: return "CONFLICT"
        case .tooLarge: return "TOO_LARGE"
        case .unauthorized: return "UNAUTHORIZED"
        case .versionUnsupported: return "VERSION_UNSUPPORTED"
        case .invalidRecord: return "INVALID_RECORD"
        case .storageFull: return "STORAGE_FULL"
        case .internalError: return "INTERNAL"
        case .unknownMessage: return "UNKNOWN_MESSAGE"
        case .shuttingDown: return "SHUTTING_DOWN"
        case .busy: return "BUSY"
        case .protocolViolation: return "PROTOCOL_VIOLATION"
        }
    }

    public var description: String { name }
}
