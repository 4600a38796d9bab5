import EpilogueModel

/// Why a store operation was refused. The server maps each to one wire error code (`StoreWireMapping`).
public enum StoreError: Error, Equatable, CustomStringConvertible {
    case notFound(id: String)
    case conflict(id: String, expected: UInt64, actual: UInt64)
    case invalidRecord(RecordValidationError)
    case badRequest(String)
    case storage(StorageError)
    case corruptRecord(id: String)
    case dictionaryNotFound(id: UInt32)
    /// The store failed at something that is not the client's doing (e.g. compressing a valid
    /// record): INTERNAL_ERROR, never blamed on the request.
    case internalFault(String)
    /// One line of an IMPORT batch was refused (so the whole batch was): the line and why.
    indirect case importLine(line: UInt32, StoreError)

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
        case .internalFault(let message): return message
        case .importLine(let line, let error): return "line \(line): \(error.description)"
        }
    }
}
