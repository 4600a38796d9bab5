import EpilogueShared

/// Failures of the storage layer, mapped to wire error codes by the server.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// The file system is out of space (ENOSPC/EDQUOT); nothing of the write remains.
    case full
    case io(operation: String, path: String, errno: Int32)
    case badHeader(path: String)
    case unusableDirectory(path: String, reason: String)
    /// A trained dictionary file is damaged, or the log names a dictionary no file provides.
    case corruptDictionary(path: String, reason: String)
    /// A backup directory that is incomplete or does not match its manifest.
    case damagedBackup(path: String, offset: Int?, reason: String)
    /// A failure that comes with no errno (a short read, an unexpected error type): said in words,
    /// never as `io` with errno 0 (which strerror calls "Success").
    case failed(operation: String, path: String, reason: String)

    /// `error` as a storage failure of `operation` on `path`: itself when it is one.
    init(_ error: any Error, operation: String, path: String) {
        self = error as? StorageError ?? .failed(operation: operation, path: path, reason: "\(error)")
    }

    public var description: String {
        switch self {
        case .full: return "no space left on the store's disk"
        case .io(let operation, let path, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .badHeader(let path): return "\(path) is not an Epilogue record log"
        case .unusableDirectory(let path, let reason): return "data directory \(path) is not writable: \(reason)"
        case .corruptDictionary(let path, let reason): return "compression dictionary \(path): \(reason)"
        case .damagedBackup(let path, let offset, let reason):
            return "damaged backup: \(path)\(offset.map { " at offset \($0)" } ?? ""): \(reason)"
        case .failed(let operation, let path, let reason): return "\(operation) \(path): \(reason)"
        }
    }

    /// The failure a system call reported in `code`; a call that failed without setting errno
    /// becomes `failed`, not `io` with errno 0.
    static func fromErrno(_ operation: String, _ path: String, _ code: Int32 = errno) -> StorageError {
        if code == 0 { return .failed(operation: operation, path: path, reason: "failed without an error code") }
        return code == ENOSPC || code == EDQUOT ? .full : .io(operation: operation, path: path, errno: code)
    }
}

/// How hard a write is pushed to disk before it is acknowledged.
public enum FsyncPolicy: String, Sendable, CaseIterable {
    /// fsync before every acknowledgement; concurrent writers share one fsync (group commit).
    case always
    /// acknowledge after write(2); a background fsync runs every `batchInterval`.
    case batch
    /// never fsync; the kernel writes back when it likes.
    case never
}
