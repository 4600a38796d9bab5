import EpilogueStorage
import EpilogueCompression
import EpilogueModel
import EpilogueProtocol
import EpilogueShared
import NIOCore

// The storage engine answers in its own types; the server maps them to the wire protocol's here.

extension StoredRecord {
    /// The record as a RECORD frame carries it, body as stored (read from the log).
    func wireRecord() throws(StoreError) -> WireRecord {
        // Trained dictionaries' bodies are raw deflate on disk (see DictionarySet.isRawDeflate).
        WireRecord(id: id, version: version, updatedAt: updatedAt,
                   encoding: dictionaryID >= DictionarySet.firstTrainedID ? .deflate : .zlib, dictionaryID: dictionaryID,
                   body: ByteBuffer(bytes: try storedBody()))
    }
}

extension StoreError {
    /// The wire code of the refusal: the client's mistakes as theirs, the store's faults as
    /// INTERNAL_ERROR (or STORAGE_FULL), never as BAD_REQUEST.
    public var code: ErrorCode {
        switch self {
        case .notFound, .dictionaryNotFound: return .notFound
        case .conflict: return .conflict
        case .invalidRecord: return .invalidRecord
        case .badRequest: return .badRequest
        case .storage(.full): return .storageFull
        case .storage, .corruptRecord, .internalFault: return .internalError
        case .importLine(_, let error): return error.code
        }
    }
}
