import EpilogueCompression
import EpilogueModel
import EpilogueShared
import Foundation

/// Online backup (docs/STORAGE.md, "Backup"): what the store copies, how a copy is written and
/// checked, and how a store refuses a copy that is not whole.
///
/// A backup directory is a data directory plus, until a store first starts on it,
/// `backup.manifest` (each file's length and CRC-32, written last). While it is being written it
/// holds `backup.incomplete`, removed only after the manifest is durable.
public enum Backup {
    public static let manifestName = "backup.manifest"
    public static let incompleteName = "backup.incomplete"
    static let manifestMagic = "epilogue-backup 1"
    /// Bytes of a file per piece (a BACKUP_CHUNK on the wire).
    static let chunkSize = 256 << 10

    /// Manifest text: a magic line, then `<name> <length> <crc32 as 8 hex digits>` per file.
    static func manifest(_ files: [BackupFile]) -> String {
        ([manifestMagic] + files.map { "\($0.name) \($0.length) \(String($0.crc32, radix: 16).leftPadded8)" }).joined(separator: "\n") + "\n"
    }

    static func parseManifest(_ text: String, path: String) throws -> [BackupFile] {
        var lines = text.split(separator: "\n")[...]
        guard lines.popFirst() == Substring(manifestMagic) else { throw StorageError.damagedBackup(path: path, offset: nil, reason: "not a backup manifest") }
        return try lines.map { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, let length = UInt64(parts[1]), let crc = UInt32(parts[2], radix: 16), !parts[0].contains("/") else {
                throw StorageError.damagedBackup(path: path, offset: nil, reason: "malformed line '\(line)'")
            }
            return BackupFile(name: String(parts[0]), length: length, crc32: crc)
        }
    }

    /// Called when a store opens `directory`: refuses a backup copy that never finished, and one
    /// whose files do not match its manifest or whose log holds an entry that is cut short or
    /// fails its checksum (naming the file and offset). A matching copy becomes an ordinary data
    /// directory: the manifest is removed (the store is about to write to it).
    ///
    /// `index.snapshot` is only a cache: listed but absent (an operator deleted a damaged one) it
    /// is passed over, and the store rebuilds its indexes from the log. Present but damaged, it is
    /// refused like any other file, saying so: a damaged copy is a reason to distrust the medium.
    public static func verifyIfBackup(directory: String) throws {
        let incomplete = directory + "/" + incompleteName
        if FileManager.default.fileExists(atPath: incomplete) {
            let log = directory + "/" + RecordLog.fileName
            let size = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
            throw StorageError.damagedBackup(path: incomplete, offset: nil,
                                             reason: "the backup never finished (\(RecordLog.fileName) holds \(size) bytes); take it again")
        }
        let manifestPath = directory + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: manifestPath) else { return }
        let files = try parseManifest(String(decoding: data, as: UTF8.self), path: manifestPath)
        guard files.contains(where: { $0.name == RecordLog.fileName }) else {
            throw StorageError.damagedBackup(path: manifestPath, offset: nil, reason: "lists no \(RecordLog.fileName)")
        }
        for file in files {
            let path = directory + "/" + file.name
            guard let handle = FileHandle(forReadingAtPath: path) else {
                if file.name == IndexSnapshot.fileName { continue }
                throw StorageError.damagedBackup(path: path, offset: nil, reason: "missing")
            }
            let remedy = file.name == IndexSnapshot.fileName ? " (only a cache: delete it to restore without it; the first start then rebuilds the indexes)" : ""
            defer { try? handle.close() }
            var verifier = file.name == RecordLog.fileName ? LogVerifier(path: path) : nil
            var crc: UInt32 = 0
            var length: UInt64 = 0
            while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                let bytes = [UInt8](chunk)
                crc = Zlib.crc32(bytes, seed: crc)
                length += UInt64(bytes.count)
                try verifier?.feed(bytes)
            }
            guard length == file.length else {
                throw StorageError.damagedBackup(path: path, offset: Int(min(length, file.length)),
                                                 reason: "holds \(length) bytes, the manifest says \(file.length)" + remedy)
            }
            try verifier?.finish()
            guard crc == file.crc32 else { throw StorageError.damagedBackup(path: path, offset: nil, reason: "CRC-32 differs from the manifest's" + remedy) }
        }
        guard unlink(manifestPath) == 0 else { throw StorageError.fromErrno("unlink", manifestPath) }
        RecordLog.syncDirectory(directory)
    }

    /// Checks a record log as its bytes arrive, in order: the header, then whole entries with
    /// good checksums. Holds at most one entry plus the bytes last fed.
    struct LogVerifier {
        let path: String
        private var pending: [UInt8] = []
        /// File offset of `pending[0]`.
        private var offset = 0
        private(set) var entries = 0

        init(path: String) { self.path = path }

        mutating func feed(_ bytes: [UInt8]) throws {
            pending += bytes
            if offset == 0 {
                guard pending.count >= RecordLog.header.count else { return }
                guard Array(pending.prefix(RecordLog.header.count)) == RecordLog.header else {
                    throw StorageError.damagedBackup(path: path, offset: 0, reason: "not an Epilogue record log")
                }
                pending.removeFirst(RecordLog.header.count)
                offset = RecordLog.header.count
            }
            var consumed = 0
            scan: while consumed < pending.count {
                let result = pending.withUnsafeBytes { LogEntry.read(UnsafeRawBufferPointer(rebasing: $0[consumed...])) }
                switch result {
                case .entry(_, let size):
                    consumed += size
                    entries += 1
                case .incomplete:
                    break scan
                case .corrupt(let why):
                    throw StorageError.damagedBackup(path: path, offset: offset + consumed, reason: why)
                }
            }
            pending.removeFirst(consumed)
            offset += consumed
        }

        func finish() throws {
            if offset == 0 { throw StorageError.damagedBackup(path: path, offset: 0, reason: "cut short inside the header") }
            if !pending.isEmpty { throw StorageError.damagedBackup(path: path, offset: offset, reason: "entry cut short") }
        }
    }

    /// What a BACKUP copies, fixed at one moment under the store's lock: the log's length then (an
    /// entry boundary: every write applied before it, none after) read through a descriptor of
    /// its own (a compaction that renames a new log in meanwhile leaves this file, and so this
    /// prefix, intact), the trained dictionaries then (files never change once written), and the
    /// index then (a copy-on-write copy), which `prepareSnapshot` serialises as the backup's
    /// `index.snapshot` for exactly that log length.
    public final class Source: @unchecked Sendable {
        let logFD: Int32
        let logLength: Int
        let dictionaryIDs: [UInt32]
        let directory: String
        /// The index as of `logLength`, until `prepareSnapshot` has written it.
        private var index: RecordIndex?
        /// The written snapshot: an unlinked file in `directory` read through this descriptor.
        private(set) var snapshot: (fd: Int32, length: Int)?

        init(logFD: Int32, logLength: Int, dictionaryIDs: [UInt32], directory: String, index: RecordIndex?) {
            self.logFD = logFD
            self.logLength = logLength
            self.dictionaryIDs = dictionaryIDs
            self.directory = directory
            self.index = index
        }

        deinit {
            close(logFD)
            if let snapshot { close(snapshot.fd) }
        }

        /// Serialises the index snapshot (seconds at 1M records: call it off the event loops, once,
        /// before the backup is read). It goes to a file in the data directory unlinked at once, so
        /// nothing is left behind and its space is freed when the backup ends. A failure (a full
        /// disk) leaves the backup without a snapshot, which restores by rebuilding the indexes:
        /// the reason is returned for the log.
        public func prepareSnapshot() -> String? {
            guard let index else { return nil }
            self.index = nil
            let path = directory + "/" + IndexSnapshot.fileName + ".backup-\(getpid())-\(UInt32.random(in: 0 ... .max))"
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return StorageError.fromErrno("open", path).description }
            unlink(path)
            do {
                try IndexSnapshot(of: index, logSize: logLength).write(descriptor: fd, path: path)
                let length = lseek(fd, 0, SEEK_END)
                guard length >= 0 else { throw StorageError.fromErrno("lseek", path) }
                snapshot = (fd, Int(length))
                return nil
            } catch {
                close(fd)
                return (error as? StorageError)?.description ?? "\(error)"
            }
        }

        func readLog(at offset: Int, count: Int) throws -> [UInt8] {
            try Self.read(logFD, at: offset, count: count, path: directory + "/" + RecordLog.fileName)
        }

        func readSnapshot(at offset: Int, count: Int) throws -> [UInt8] {
            try Self.read(snapshot?.fd ?? -1, at: offset, count: count, path: directory + "/" + IndexSnapshot.fileName)
        }

        private static func read(_ fd: Int32, at offset: Int, count: Int, path: String) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw StorageError.fromErrno("read", path) }
                done += n
            }
            return out
        }
    }
}

extension String {
    fileprivate var leftPadded8: String { count >= 8 ? self : String(repeating: "0", count: 8 - count) + self }
}

/// A backup being read (for BACKUP: the server's `BackupStream` sends each piece as a frame): the
/// dictionary files first, then the log prefix a chunk at a time, then the index snapshot (when
/// `Source.prepareSnapshot` wrote one) a chunk at a time, then every file's length and CRC-32. A
/// failure to read ends it with `.failed`.
public struct BackupReader {
    public enum Piece: Equatable, Sendable {
        /// `bytes` of `file` from `offset` on.
        case chunk(file: String, offset: UInt64, bytes: [UInt8])
        /// The last piece: every file sent, with its whole length and CRC-32.
        case end([BackupFile])
        /// The last piece: the backup could not be read (the reason, for the client).
        case failed(String)
    }

    /// A file sent a chunk at a time: how far, and the CRC-32 so far.
    private struct Progress {
        let name: String
        let length: Int
        let read: (Int, Int) throws -> [UInt8]
        var offset = 0
        var crc: UInt32 = 0
    }

    private let source: Backup.Source
    private var dictionaries: [UInt32]
    /// The log, then the snapshot.
    private var chunked: [Progress]
    private var files: [BackupFile] = []
    public private(set) var isFinished = false

    public init(source: Backup.Source) {
        self.source = source
        self.dictionaries = source.dictionaryIDs
        chunked = [Progress(name: RecordLog.fileName, length: source.logLength, read: source.readLog)]
        if let snapshot = source.snapshot {
            chunked.append(Progress(name: IndexSnapshot.fileName, length: snapshot.length, read: source.readSnapshot))
        }
    }

    /// Up to `maximum` pieces; none once finished.
    public mutating func nextPieces(maximum: Int) -> [Piece] {
        guard !isFinished else { return [] }
        var pieces: [Piece] = []
        do {
            while pieces.count < maximum {
                if let id = dictionaries.first {
                    dictionaries.removeFirst()
                    let name = DictionaryFile.fileName(id: id)
                    let path = source.directory + "/" + name
                    guard let data = FileManager.default.contents(atPath: path) else { throw StorageError.io(operation: "read", path: path, errno: ENOENT) }
                    let bytes = [UInt8](data)
                    files.append(BackupFile(name: name, length: UInt64(bytes.count), crc32: Zlib.crc32(bytes)))
                    pieces.append(.chunk(file: name, offset: 0, bytes: bytes))
                    continue
                }
                guard var file = chunked.first else {
                    pieces.append(.end(files))
                    isFinished = true
                    return pieces
                }
                guard file.offset < file.length else {
                    files.append(BackupFile(name: file.name, length: UInt64(file.length), crc32: file.crc))
                    chunked.removeFirst()
                    continue
                }
                let bytes = try file.read(file.offset, min(Backup.chunkSize, file.length - file.offset))
                file.crc = Zlib.crc32(bytes, seed: file.crc)
                pieces.append(.chunk(file: file.name, offset: UInt64(file.offset), bytes: bytes))
                file.offset += bytes.count
                chunked[0] = file
            }
        } catch {
            isFinished = true
            pieces.append(.failed((error as? StorageError)?.description ?? "\(error)"))
        }
        return pieces
    }
}

/// Writes a backup's pieces into a directory as they arrive (the client side: `epilogue-store
/// backup`, through `LockedBackupWriter`). `backup.incomplete` is created first; each log chunk is
/// checked entry by entry as it is written (header, lengths, CRC-32s) and each file's CRC-32 and length must match BACKUP_END;
/// then every file is fsynced, `backup.manifest` written (temp file, fsync, rename) and only then
/// `backup.incomplete` removed. A copy that fails anywhere — a damaged chunk, a full disk — keeps
/// its `backup.incomplete`, so no store starts on it.
public final class BackupWriter {
    public let directory: String
    private var handles: [String: (fd: Int32, length: UInt64, crc: UInt32)] = [:]
    private var verifier: Backup.LogVerifier
    public private(set) var bytes: UInt64 = 0
    public private(set) var failure: (any Error)?
    public private(set) var files: [BackupFile] = []

    /// Creates `directory` (it must not exist, or be empty) with its `backup.incomplete` marker.
    public init(directory: String) throws {
        self.directory = directory
        self.verifier = Backup.LogVerifier(path: directory + "/" + RecordLog.fileName)
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw StorageError.unusableDirectory(path: directory, reason: "it is not empty; a backup goes into a new directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError.unusableDirectory(path: directory, reason: "can't create it (\((error as NSError).localizedDescription))")
        }
        try Self.writeFile(directory + "/" + Backup.incompleteName, Array("a backup is being written here\n".utf8))
        RecordLog.syncDirectory(directory)
    }

    deinit { for handle in handles.values { close(handle.fd) } }

    /// Takes `bytes` of the file `name` from `offset` on (a BACKUP_CHUNK); throws (and remembers)
    /// the first failure.
    public func receive(file name: String, offset: UInt64, bytes: [UInt8]) throws {
        if let failure { throw failure }
        do {
            guard !name.isEmpty, !name.contains("/"), name != Backup.manifestName, name != Backup.incompleteName else {
                throw StorageError.damagedBackup(path: directory, offset: nil, reason: "the store sent a file named '\(name)'")
            }
            let path = directory + "/" + name
            var handle = handles[name] ?? (fd: open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644), length: 0, crc: 0)
            guard handle.fd >= 0 else { throw StorageError.fromErrno("open", path) }
            guard offset == handle.length else {
                throw StorageError.damagedBackup(path: path, offset: Int(handle.length), reason: "the store sent bytes for offset \(offset)")
            }
            if name == RecordLog.fileName { try verifier.feed(bytes) }
            try RecordLog.writeAll(fd: handle.fd, bytes, path: path, at: Int(offset))
            handle.length += UInt64(bytes.count)
            handle.crc = Zlib.crc32(bytes, seed: handle.crc)
            handles[name] = handle
            self.bytes += UInt64(bytes.count)
        } catch {
            failure = error
            throw error
        }
    }

    /// Takes the list of files the backup ended with (BACKUP_END): checks every file against it,
    /// makes the copy durable and complete.
    public func finish(files listed: [BackupFile]) throws {
        if let failure { throw failure }
        for file in listed {
            let path = directory + "/" + file.name
            if handles[file.name] == nil, file.length == 0 {
                handles[file.name] = (open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644), 0, 0)
            }
            guard let handle = handles[file.name] else { throw StorageError.damagedBackup(path: path, offset: 0, reason: "never received") }
            guard handle.length == file.length else {
                throw StorageError.damagedBackup(path: path, offset: Int(handle.length), reason: "received \(handle.length) bytes of \(file.length)")
            }
            guard handle.crc == file.crc32 else { throw StorageError.damagedBackup(path: path, offset: nil, reason: "CRC-32 differs from the store's") }
            try RecordLog.syncFile(handle.fd, path: path)
        }
        try verifier.finish()
        files = listed
        let manifest = directory + "/" + Backup.manifestName
        try Self.writeFile(manifest + ".tmp", Array(Backup.manifest(listed).utf8))
        guard rename(manifest + ".tmp", manifest) == 0 else { throw StorageError.fromErrno("rename", manifest) }
        RecordLog.syncDirectory(directory)
        guard unlink(directory + "/" + Backup.incompleteName) == 0 else { throw StorageError.fromErrno("unlink", directory + "/" + Backup.incompleteName) }
        RecordLog.syncDirectory(directory)
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.fromErrno("open", path) }
        defer { close(fd) }
        try RecordLog.writeAll(fd: fd, bytes, path: path)
        try RecordLog.syncFile(fd, path: path)
    }
}

/// A `BackupWriter` fed from a connection's event loop and finished from another task.
public final class LockedBackupWriter: @unchecked Sendable {
    private let lock = NSLock()
    private let writer: BackupWriter

    public init(_ writer: BackupWriter) { self.writer = writer }

    /// A failure is kept by the writer and thrown by `finish`.
    public func receive(file: String, offset: UInt64, bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        _ = try? writer.receive(file: file, offset: offset, bytes: bytes)
    }

    public func finish(files: [BackupFile]) throws {
        lock.lock()
        defer { lock.unlock() }
        try writer.finish(files: files)
    }
}
