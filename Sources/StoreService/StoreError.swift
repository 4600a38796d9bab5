import EpilogueProtocol
import EpilogueModel

/// Why a store operation was refused. Each maps to one wire error code.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    case notFound(id: String)
    case conflict(id: String, expected: UInt64, actual: UInt64)
    case invalidRecord(RecordValidationError)
    case badRequest(String)
    case storage(StorageError)
    case corruptRecord(id: String)
    case dictionaryNotFound(id: UInt32)
    /// One line of an IMPORT batch was refused (so the whole batch was): the line and why.
    indirect case importLine(line: UInt32, StoreError)

    public var code: ErrorCode {
        switch self {
        case .notFound, .dictionaryNotFound: return .notFound
        case .conflict: return .conflict
        case .invalidRecord: return .invalidRecord
        case .badRequest: return .badRequest
        case .storage(.full): return .storageFull
        case .storage, .corruptRecord: return .internalError
        case .importLine(_, let error): return error.code
        }
    }

    public var description: String {
        switch self {
        case .notFound(let id): return "no record with id '\(id)'"
        case .conflict(let id, let expected, let actual):
            return actual == 0 ? "'\(id)' does not exist (expected version \(expected))"
                : "'\(id)' is at version \(actual), not \(expected)"
        case .invalidRecord(let error): return error.description
        case .badRequest(let message): return message
        case .storage(let error): return error.description
        case .corruptRecord(let id): return "record '\(id)' could not be decoded"
        case .dictionaryNotFound(let id): return "no dictionary with id \(id)"
        case .importLine(let line, let error): return "line \(line): \(error.description)"
        }
    }
}
