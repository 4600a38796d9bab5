import EpilogueShared
import Foundation
import Logging

/// The append-only record log: one file, `records.log`, an 8-byte header then `LogEntry`s.
/// Not thread-safe: `RecordStore` serialises appends under its lock; fsync runs on the
/// `DurabilityGate`'s thread against `fd`, which only changes during a compaction swap. Record
/// bodies are read through `file` (see `LogFile`), without the lock.
final class RecordLog: @unchecked Sendable {
    static let fileName = "records.log"
    static let compactingSuffix = ".compacting"
    static let header: [UInt8] = Array("EPILOG".utf8) + [0, 1]

    let directory: String
    var path: String { directory + "/" + Self.fileName }
    /// The current generation of the file; a compaction installs a new one.
    private(set) var file: LogFile
    var fd: Int32 { file.fd }
    /// Bytes in the current file, header included.
    private(set) var size: Int

    /// What a start-up scan of the log found (`scan`).
    struct Scan: Equatable {
        var entries = 0
        var validBytes = 0
        var discardedBytes = 0
        var reason: String?
    }

    /// Opens (creating when absent) the log in `directory`. Fails with a clear error when the
    /// directory can't be created or written.
    init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError.unusableDirectory(path: directory, reason: "can't create it (\((error as NSError).localizedDescription))")
        }
        guard access(directory, W_OK) == 0 else {
            throw StorageError.unusableDirectory(path: directory, reason: String(cString: strerror(errno)))
        }
        // A compaction that crashed before its rename leaves a partial file: it never replaced anything.
        unlink(directory + "/" + Self.fileName + Self.compactingSuffix)
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.io(operation: "open", path: path, errno: errno) }
        self.file = LogFile(fd: fd, path: path)
        var st = stat()
        fstat(fd, &st)
        self.size = Int(st.st_size)
        if size == 0 {
            try Self.writeAll(fd: fd, Self.header, path: path)
            try Self.syncFile(fd, path: path)
            Self.syncDirectory(directory)
            size = Self.header.count
        }
    }

    var isNew: Bool { size == Self.header.count }

    /// Bytes read at a time during recovery: any entry fits (`LogEntry.maximumLength`), and the
    /// log is never held in memory whole (at a million records it is hundreds of megabytes).
    static let recoveryWindow = 8 << 20

    /// Reads every entry in order, calling `apply` with it, its size and its offset. A torn or
    /// corrupt tail is cut off (the file is truncated to the last good entry) and reported;
    /// entries before it are all applied.
    func scan(_ apply: (LogEntry, _ size: Int, _ offset: Int) -> Void) throws -> Scan {
        var report = Scan()
        let fileSize = try currentFileSize()
        let head = try read(at: 0, count: min(fileSize, Self.header.count))
        guard head == Self.header else {
            if head.count < Self.header.count && Self.header.starts(with: head) {
                // Torn header of a brand-new file: start it again.
                try truncate(to: 0)
                try Self.writeAll(fd: fd, Self.header, path: path)
                size = Self.header.count
                return report
            }
            throw StorageError.badHeader(path: path)
        }
        let walked = try walk(from: Self.header.count, to: fileSize, apply)
        let offset = walked.end
        report.entries = walked.entries
        report.reason = walked.reason
        report.validBytes = offset
        report.discardedBytes = fileSize - offset
        if report.discardedBytes > 0 {
            try truncate(to: offset)
            try Self.syncFile(fd, path: path)
        }
        size = offset
        return report
    }

    /// Reads the entries from `start` (an entry boundary) to the end again, in order, calling
    /// `apply` as `scan` does. Only after `scan`, which checked them and cut any bad tail: recovery
    /// reads the part after the index snapshot's point once the snapshot is loaded.
    func replay(from start: Int, _ apply: (LogEntry, _ size: Int, _ offset: Int) -> Void) throws {
        let walked = try walk(from: start, to: size, apply)
        if let reason = walked.reason { throw StorageError.failed(operation: "read", path: path, reason: reason) }
    }

    /// Entries from `start` until `end` or the first torn or corrupt one (then `reason` says
    /// which, and `end` is where it starts), through a window of `recoveryWindow` bytes.
    private func walk(from start: Int, to fileSize: Int, _ apply: (LogEntry, _ size: Int, _ offset: Int) -> Void) throws
        -> (end: Int, entries: Int, reason: String?) {
        var offset = start
        var entries = 0
        var window: [UInt8] = []
        var windowStart = offset
        while offset < fileSize {
            let result = window.withUnsafeBytes { raw in
                LogEntry.read(UnsafeRawBufferPointer(rebasing: raw[(offset - windowStart)...]))
            }
            switch result {
            case .entry(let entry, let size):
                apply(entry, size, offset)
                entries += 1
                offset += size
            case .incomplete where windowStart + window.count < fileSize:
                // The entry runs past the window: read on from its start.
                window = try read(at: offset, count: min(fileSize - offset, Self.recoveryWindow))
                windowStart = offset
            case .incomplete:
                return (offset, entries, "torn entry at offset \(offset)")
            case .corrupt(let why):
                return (offset, entries, "\(why) at offset \(offset)")
            }
        }
        return (offset, entries, nil)
    }

    /// Appends already-encoded entries with one write(2) at `size` (where the first one starts).
    /// On failure the file is cut back to where it was, so a failed write leaves nothing
    /// half-written behind.
    func append(_ bytes: [UInt8]) throws {
        do {
            try Self.writeAll(fd: fd, bytes, path: path, at: size)
        } catch {
            _ = ftruncate(fd, off_t(size))
            throw error
        }
        size += bytes.count
    }

    func sync() throws { try Self.syncFile(fd, path: path) }

    // MARK: Compaction

    /// A compaction's new log being written (`records.log.compacting`), entries appended in
    /// chunks so the live records never sit in memory whole.
    struct CompactionFile {
        let fd: Int32
        /// Bytes written so far, header included: where the next entry starts.
        fileprivate(set) var size: Int
    }

    /// Starts a compaction file: the header, no entries yet.
    func startCompactionFile() throws -> CompactionFile {
        let tmp = path + Self.compactingSuffix
        let newFD = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard newFD >= 0 else { throw StorageError.fromErrno("open", tmp) }
        var file = CompactionFile(fd: newFD, size: 0)
        do { try appendToCompactionFile(Self.header, &file) } catch {
            abandonCompactionFile(file)
            throw error
        }
        return file
    }

    /// Appends encoded entries to a compaction file (the caller abandons it on failure).
    func appendToCompactionFile(_ bytes: [UInt8], _ file: inout CompactionFile) throws {
        try Self.writeAll(fd: file.fd, bytes, path: path + Self.compactingSuffix, at: file.size)
        file.size += bytes.count
    }

    /// Makes a compaction file's entries durable. The caller does this outside the store's lock,
    /// so the fsync under it in `installCompactionFile` only has the carried-over tail to write
    /// back, and reads and writes are not held for the whole file's fsync.
    func syncCompactionFile(_ compaction: CompactionFile) throws {
        try Self.syncFile(compaction.fd, path: path + Self.compactingSuffix)
    }

    /// Bytes appended to the live log since `offset` (the tail a compaction must carry over).
    func bytes(from offset: Int) throws -> [UInt8] {
        try file.read(at: offset, count: size - offset)
    }

    /// Finishes a compaction: appends the carried-over tail, makes the new file durable, renames it
    /// over the log and switches to it. On failure the caller abandons `newFD`. The caller holds the store lock and the durability gate's
    /// swap permission, so no append or fsync runs meanwhile.
    func installCompactionFile(_ compaction: CompactionFile, tail: [UInt8]) throws {
        let tmp = path + Self.compactingSuffix
        let newFD = compaction.fd
        try Self.writeAll(fd: newFD, tail, path: tmp, at: compaction.size)
        try Self.syncFile(newFD, path: tmp)
        guard rename(tmp, path) == 0 else { throw StorageError.fromErrno("rename", tmp) }
        Self.syncDirectory(directory)
        // The old generation closes once no record copied before the swap is still being read.
        file = LogFile(fd: newFD, path: path)
        size = compaction.size + tail.count
    }

    func abandonCompactionFile(_ compaction: CompactionFile) {
        close(compaction.fd)
        unlink(path + Self.compactingSuffix)
    }

    // MARK: Helpers

    private func currentFileSize() throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.fromErrno("stat", path) }
        return Int(st.st_size)
    }

    /// Up to `count` bytes at `offset` (fewer only at the end of the file).
    private func read(at offset: Int, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < out.count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            guard n > 0 else {
                if n == 0 { out.removeSubrange(done...); break }
                if errno == EINTR { continue }
                throw StorageError.fromErrno("read", path)
            }
            done += n
        }
        return out
    }

    private func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw StorageError.fromErrno("truncate", path) }
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String, at offset: Int? = nil) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                let base = raw.baseAddress! + done
                if let offset { return pwrite(fd, base, raw.count - done, off_t(offset + done)) }
                return write(fd, base, raw.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw StorageError.fromErrno("write", path)
            }
            done += n
        }
    }

    static func syncFile(_ fd: Int32, path: String) throws {
        guard fsync(fd) == 0 else { throw StorageError.fromErrno("fsync", path) }
    }

    /// Makes a create or rename durable: fsync the directory that holds it.
    static func syncDirectory(_ directory: String) {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { return }
        _ = fsync(dfd)
        close(dfd)
    }
}
