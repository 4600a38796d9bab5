import EpilogueCompression
import EpilogueShared
import Foundation

/// A trained compression dictionary on disk: `<data-dir>/dictionary-<id>.zdict`. Layout
/// (big-endian), see docs/STORAGE.md:
///
///     8 bytes magic "EPIDICT" 0x01
///     u32 id, u64 trained_on (live records when it was trained), u32 length, the bytes
///     u32 crc32 of everything before it
///
/// A dictionary is made durable (temp file, fsync, rename, directory fsync) before any log
/// entry names it, so an entry never outlives its dictionary.
struct DictionaryFile: Equatable {
    static let magic: [UInt8] = Array("EPIDICT".utf8) + [1]
    static let prefix = "dictionary-"
    static let suffix = ".zdict"

    var id: UInt32
    var trainedOn: UInt64
    var bytes: [UInt8]

    var dictionary: CompressionDictionary { CompressionDictionary(id: id, bytes: bytes) }

    static func fileName(id: UInt32) -> String { "\(prefix)\(id)\(suffix)" }

    func encoded() -> [UInt8] {
        var out = Self.magic
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.bigEndian) { out += $0 } }
        put(id)
        put(trainedOn)
        put(UInt32(bytes.count))
        out += bytes
        put(Zlib.crc32(out))
        return out
    }

    static func decode(_ data: [UInt8], path: String) throws -> DictionaryFile {
        func corrupt(_ reason: String) -> StorageError { .corruptDictionary(path: path, reason: reason) }
        let header = magic.count + 4 + 8 + 4
        guard data.count >= header + 4, Array(data.prefix(magic.count)) == magic else { throw corrupt("not a dictionary file") }
        func load<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
            data[offset..<(offset + MemoryLayout<T>.size)].reduce(T(0)) { $0 << 8 | T($1) }
        }
        let length = Int(load(UInt32.self, at: magic.count + 12))
        guard length <= DictionaryTrainer.maximumCapacity, data.count == header + length + 4 else { throw corrupt("wrong length") }
        guard Zlib.crc32(data[..<(header + length)]) == load(UInt32.self, at: header + length) else { throw corrupt("checksum mismatch") }
        return DictionaryFile(id: load(UInt32.self, at: magic.count), trainedOn: load(UInt64.self, at: magic.count + 4),
                              bytes: Array(data[header..<(header + length)]))
    }

    /// Writes the file durably: once this returns, the dictionary survives a crash.
    func write(to directory: String) throws {
        let path = directory + "/" + Self.fileName(id: id)
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.fromErrno("open", tmp) }
        do {
            try RecordLog.writeAll(fd: fd, encoded(), path: tmp)
            try RecordLog.syncFile(fd, path: tmp)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        guard rename(tmp, path) == 0 else {
            let error = StorageError.fromErrno("rename", tmp)
            unlink(tmp)
            throw error
        }
        RecordLog.syncDirectory(directory)
    }

    /// Every dictionary file in `directory`, by id. Leftover temp files (a crash mid-write, never
    /// referenced) are removed; a damaged dictionary file is an error, never skipped.
    static func loadAll(from directory: String) throws -> [DictionaryFile] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var files: [DictionaryFile] = []
        for name in names.sorted() where name.hasPrefix(prefix) {
            let path = directory + "/" + name
            if name.hasSuffix(suffix + ".tmp") {
                unlink(path)
                continue
            }
            guard name.hasSuffix(suffix), let id = UInt32(name.dropFirst(prefix.count).dropLast(suffix.count)) else { continue }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StorageError.corruptDictionary(path: path, reason: "unreadable")
            }
            let file = try decode(Array(data), path: path)
            guard file.id == id else { throw StorageError.corruptDictionary(path: path, reason: "holds dictionary \(file.id)") }
            files.append(file)
        }
        return files.sorted { $0.id < $1.id }
    }
}
