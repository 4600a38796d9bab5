import EpilogueProtocol

/// The CODE of an `ERR <CODE> <message>` status line: the text protocol's whole error vocabulary
/// (docs/TEXT_PROTOCOL.md "Status codes" lists exactly these). The status line is rendered from
/// it, never parsed back.
public enum TextErrorCode: String, CaseIterable, Sendable {
    case badRequest = "BAD_REQUEST"
    case unknownCommand = "UNKNOWN_COMMAND"
    case notFound = "NOT_FOUND"
    case conflict = "CONFLICT"
    case invalidRecord = "INVALID_RECORD"
    case tooLarge = "TOO_LARGE"
    case unauthorized = "UNAUTHORIZED"
    case storeUnavailable = "STORE_UNAVAILABLE"
    case timeout = "TIMEOUT"
    case storageFull = "STORAGE_FULL"
    case shuttingDown = "SHUTTING_DOWN"
    case busy = "BUSY"
    case internalError = "INTERNAL"

    /// What the client is told when the store answered a command with ERROR `code`. Codes that
    /// say the gateway and the store disagree (a refused handshake, a message or version the store
    /// does not know, a protocol violation) are the servers' fault, not the client's: they never
    /// come back as BAD_REQUEST or UNAUTHORIZED.
    public init(storeCode code: ErrorCode) {
        switch code {
        case .badRequest: self = .badRequest
        case .notFound: self = .notFound
        case .conflict: self = .conflict
        case .tooLarge: self = .tooLarge
        case .invalidRecord: self = .invalidRecord
        case .storageFull: self = .storageFull
        case .shuttingDown: self = .shuttingDown
        // The gateway's store secret was refused, or the store is over its connection limit.
        case .unauthorized, .busy: self = .storeUnavailable
        case .versionUnsupported, .unknownMessage, .protocolViolation, .internalError: self = .internalError
        }
    }
}
