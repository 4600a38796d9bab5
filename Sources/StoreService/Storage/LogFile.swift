import Foundation

/// One open generation of `records.log`: its descriptor, closed when the last holder lets go.
///
/// Record bodies stay on disk and are read by offset (`LogBody`), so every in-memory record holds
/// the file its body is in. A compaction installs a new generation and moves the index's records
/// to it; a reader that copied a record before the swap (a GET between lock and read, an EXPORT
/// streaming a million records) still reads the old file, which stays open — renamed over, never
/// changed — until that reader is done. `pread` on a shared descriptor needs no lock.
public final class LogFile: Sendable {
    let fd: Int32
    let path: String

    /// Takes ownership of `fd`.
    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Exactly `count` bytes at `offset`; fails when the file ends first.
    func read(at offset: Int, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset + done))
                guard n > 0 else {
                    if n < 0 && errno == EINTR { continue }
                    throw n == 0 ? StorageError.failed(operation: "read", path: path, reason: "the log ends at \(offset + done), before \(offset + count)")
                        : StorageError.fromErrno("read", path)
                }
                done += n
            }
            initialized = count
        }
    }
}

/// Where a record's compressed body is: its log file and its bytes there. 20 bytes in memory
/// instead of the body itself (~700 bytes a record on the benchmark corpus).
public struct LogBody: Sendable {
    var file: LogFile
    var offset: UInt64
    var count: UInt32

    init(file: LogFile, offset: UInt64, count: UInt32) {
        self.file = file
        self.offset = offset
        self.count = count
    }

    /// The body of `entry`, `size` bytes encoded, written at `offset` of `file`.
    init(file: LogFile, entry: LogEntry, at offset: Int, size: Int) {
        self.file = file
        self.offset = UInt64(offset + size - entry.body.count)
        self.count = UInt32(entry.body.count)
    }

    /// The body as stored (compressed as its record's `dictionaryID` says), read from the file.
    func read() throws -> [UInt8] {
        try file.read(at: Int(offset), count: Int(count))
    }
}
