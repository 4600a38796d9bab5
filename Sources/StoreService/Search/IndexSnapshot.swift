import EpilogueModel
import EpilogueCompression
import EpilogueShared
import Foundation

/// The in-memory indexes as of one point of the record log, saved so a restart reads them back
/// instead of inflating and tokenizing every record (docs/STORAGE.md, "Index snapshot").
///
/// It is only a cache: start-up uses it when the log's live records up to `logSize` are exactly
/// the ones it lists (same ids, versions, times and sizes), then replays the log after that
/// point; anything else (no file, bad checksum, a compacted or different log) means a rebuild.
struct IndexSnapshot {
    static let fileName = "index.snapshot"
    /// Version 6: skip entries carry their block's highest frequency and shortest document
    /// (block-max top-k). Version 5 added term positions, 4 made terms Porter stems. An older
    /// snapshot is rebuilt from the log.
    static let magic: [UInt8] = Array("EPIINDEX".utf8) + [0, 0, 0, 6]

    /// What the snapshot says about one live record; the body comes from the log.
    struct Document: Equatable {
        var id: String
        var docID: UInt32
        var version: UInt64
        var updatedAt: Int64
        var rawLength: UInt32
        var facet: UInt32
    }

    /// The log's size (an entry boundary) when the snapshot was taken.
    var logSize: Int
    var nextDocID: UInt32
    var facets: [Facets]
    var documents: [Document]
    var search: SearchIndex

    // MARK: Writing

    /// Writes the snapshot next to the log: to a temporary file, fsynced, then renamed over the
    /// old one, so a crash leaves either the old snapshot or the new one.
    func write(to directory: String) throws {
        let path = directory + "/" + Self.fileName
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError.fromErrno("open", tmp) }
        do {
            try write(descriptor: fd, path: tmp)
            try RecordLog.syncFile(fd, path: tmp)
            close(fd)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        guard rename(tmp, path) == 0 else { throw StorageError.fromErrno("rename", tmp) }
        RecordLog.syncDirectory(directory)
    }

    /// Writes the snapshot to an open file (`path` names it in errors); not fsynced.
    func write(descriptor fd: Int32, path: String) throws {
        var out = Writer(fd: fd, path: path)
        try encode(into: &out)
        try out.finish()
    }

    private func encode(into out: inout Writer) throws {
        try out.bytes(Self.magic)
        try out.u64(UInt64(logSize))
        try out.u32(nextDocID)
        try out.u32(UInt32(facets.count))
        for facet in facets {
            try out.string(facet.film)
            try out.u64(UInt64(bitPattern: Int64(facet.year)))
            try out.string(facet.director)
            try out.string(facet.subject)
            try out.u32(UInt32(facet.sourceKind.rawValue))
            try out.u32(UInt32(facet.themes.count))
            for theme in facet.themes { try out.string(theme) }
        }
        try out.u32(UInt32(documents.count))
        for document in documents {
            try out.string(document.id)
            try out.u32(document.docID)
            try out.u64(document.version)
            try out.u64(UInt64(bitPattern: document.updatedAt))
            try out.u32(document.rawLength)
            try out.u32(document.facet)
        }
        try out.u64(UInt64(search.totalTokens))
        try out.u64(UInt64(search.documentCount))
        try out.u32(UInt32(search.lengths.count))
        try search.lengths.withUnsafeBytes { try out.bytes($0) }
        try out.u32(UInt32(search.terms.count))
        for (term, list) in zip(search.terms, search.postings) {
            try out.string(term)
            try out.u32(UInt32(list.count))
            try out.u32(UInt32(list.live))
            try out.u32(list.lastDoc)
            try out.u32(UInt32(list.bytes.count))
            try list.bytes.withUnsafeBytes { try out.bytes($0) }
            try out.u32(UInt32(list.positions.count))
            try list.positions.withUnsafeBytes { try out.bytes($0) }
            try out.u32(UInt32(list.skips.count))
            for skip in list.skips {
                try out.u32(skip.previousDoc)
                try out.u32(skip.offset)
                try out.u32(skip.positionsOffset)
                try out.u32(skip.maxFrequency)
                try out.u32(skip.minLength)
            }
        }
    }

    /// Buffers writes and keeps the running CRC-32 that ends the file.
    private struct Writer {
        let fd: Int32
        let path: String
        var buffer: [UInt8] = []
        var crc: UInt32 = 0

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
            buffer.reserveCapacity(1 << 20)
        }

        mutating func bytes<C: Collection>(_ bytes: C) throws where C.Element == UInt8 {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { try flush() }
        }

        // Straight from the integer's bytes: an array per integer was most of the writer's allocations.
        mutating func u32(_ value: UInt32) throws { try withUnsafeBytes(of: value.littleEndian) { try bytes($0) } }
        mutating func u64(_ value: UInt64) throws { try withUnsafeBytes(of: value.littleEndian) { try bytes($0) } }

        mutating func string(_ value: String) throws {
            try u32(UInt32(value.utf8.count))
            try bytes(value.utf8)
        }

        mutating func flush() throws {
            crc = Zlib.crc32(buffer, seed: crc)
            try RecordLog.writeAll(fd: fd, buffer, path: path)
            buffer.removeAll(keepingCapacity: true)
        }

        mutating func finish() throws {
            try flush()
            try RecordLog.writeAll(fd: fd, withUnsafeBytes(of: crc.littleEndian) { Array($0) }, path: path)
        }
    }

    // MARK: Reading

    /// The snapshot in `directory`, or nil when there is none or it is damaged.
    static func load(from directory: String) -> IndexSnapshot? {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > magic.count + 4 else { return nil }
        let reader = Reader(fd: fd, dataSize: Int(st.st_size) - 4)
        guard let snapshot = try? decode(reader), reader.atEnd else { return nil }
        var stored: UInt32 = 0
        guard pread(fd, &stored, 4, off_t(st.st_size - 4)) == 4, UInt32(littleEndian: stored) == reader.crc else { return nil }
        return snapshot
    }

    /// What the snapshot in `directory` says before its search index: where it ends in the log
    /// and how many records it lists, so recovery can scan the log (and size its tables) while
    /// `load` reads the rest. Nil when there is none of this version; says nothing about whether
    /// the rest is intact.
    static func header(in directory: String) -> (logSize: Int, documentCount: Int)? {
        let fd = open(directory + "/" + fileName, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > magic.count + 4,
              let head = try? decodeHead(Reader(fd: fd, dataSize: Int(st.st_size) - 4)) else { return nil }
        // Not yet checked against the CRC: a damaged count can't exceed the doc ids issued.
        return (head.logSize, min(head.documentCount, Int(head.nextDocID)))
    }

    private struct Malformed: Error {}

    /// The fields before the documents, and the documents' count (not consumed).
    private static func decodeHead(_ input: Reader) throws -> (logSize: Int, nextDocID: UInt32, facets: [Facets], documentCount: Int) {
        guard try input.bytes(magic.count) == magic else { throw Malformed() }
        let logSize = Int(try input.u64())
        let nextDocID = try input.u32()
        var facets: [Facets] = []
        for _ in 0..<(try input.count(minimumItemSize: 28)) {
            let film = try input.string(), year = Int(Int64(bitPattern: try input.u64()))
            let director = try input.string(), subject = try input.string()
            guard let kind = SourceKind(rawValue: UInt8(truncatingIfNeeded: try input.u32())) else { throw Malformed() }
            var themes: [String] = []
            for _ in 0..<(try input.count(minimumItemSize: 4)) { themes.append(try input.string()) }
            facets.append(Facets(film: film, year: year, director: director, subject: subject, sourceKind: kind, themes: themes))
        }
        return (logSize, nextDocID, facets, try input.peekCount())
    }

    private static func decode(_ input: Reader) throws -> IndexSnapshot {
        let (logSize, nextDocID, facets, documentCount) = try decodeHead(input)
        var documents: [Document] = []
        documents.reserveCapacity(documentCount)
        for _ in 0..<(try input.count(minimumItemSize: 32)) {
            let document = Document(id: try input.string(), docID: try input.u32(), version: try input.u64(),
                                    updatedAt: Int64(bitPattern: try input.u64()), rawLength: try input.u32(), facet: try input.u32())
            guard document.facet < facets.count, document.docID < nextDocID else { throw Malformed() }
            documents.append(document)
        }
        var search = SearchIndex()
        search.totalTokens = Int(try input.u64())
        search.documentCount = Int(try input.u64())
        let lengthCount = try input.count(minimumItemSize: 4)
        search.lengths = [UInt32](unsafeUninitializedCapacity: lengthCount) { buffer, initialized in
            initialized = (try? input.copy(into: UnsafeMutableRawBufferPointer(buffer))) != nil ? lengthCount : 0
        }
        guard search.lengths.count == lengthCount else { throw Malformed() }
        for i in search.lengths.indices { search.lengths[i] = UInt32(littleEndian: search.lengths[i]) }
        let termCount = try input.count(minimumItemSize: 28)
        search.postings.reserveCapacity(termCount)
        search.termIDs.reserveCapacity(termCount)
        search.terms.reserveCapacity(termCount)
        for id in 0..<termCount {
            let term = try input.string()
            let count = Int(try input.u32()), live = Int(try input.u32()), lastDoc = try input.u32()
            let bytes = try input.bytes(try input.count(minimumItemSize: 1))
            let positions = try input.bytes(try input.count(minimumItemSize: 1))
            var skips: [PostingList.Skip] = []
            for _ in 0..<(try input.count(minimumItemSize: 20)) {
                skips.append(PostingList.Skip(previousDoc: try input.u32(), offset: try input.u32(), positionsOffset: try input.u32(),
                                              maxFrequency: try input.u32(), minLength: try input.u32()))
            }
            guard live <= count, skips.count == (count + PostingList.blockSize - 1) / PostingList.blockSize,
                  skips.allSatisfy({ Int($0.offset) < bytes.count && Int($0.positionsOffset) < positions.count }),
                  search.termIDs.updateValue(id, forKey: term) == nil else {
                throw Malformed()
            }
            search.terms.append(term)
            search.postings.append(PostingList(bytes: bytes, positions: positions, skips: skips, count: count, live: live, lastDoc: lastDoc))
        }
        return IndexSnapshot(logSize: logSize, nextDocID: nextDocID, facets: facets, documents: documents, search: search)
    }

    /// Reads the file through a 1 MiB buffer (a snapshot can be hundreds of megabytes), keeping
    /// the CRC-32 of what it has read.
    private final class Reader {
        let fd: Int32
        let dataSize: Int
        private var buffer = [UInt8](repeating: 0, count: 1 << 20)
        private var start = 0
        private var end = 0
        private var consumed = 0
        private(set) var crc: UInt32 = 0

        init(fd: Int32, dataSize: Int) {
            self.fd = fd
            self.dataSize = dataSize
        }

        var atEnd: Bool { consumed + (end - start) == dataSize && start == end }

        /// Copies the next `destination.count` bytes.
        func copy(into destination: UnsafeMutableRawBufferPointer) throws {
            var done = 0
            while done < destination.count {
                if start == end { try refill() }
                let n = min(end - start, destination.count - done)
                buffer.withUnsafeBytes { source in
                    (destination.baseAddress! + done).copyMemory(from: source.baseAddress! + start, byteCount: n)
                }
                start += n
                done += n
            }
        }

        private func refill() throws {
            let remaining = dataSize - consumed
            guard remaining > 0 else { throw Malformed() }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, min($0.count, remaining)) }
            guard n > 0 else { throw Malformed() }
            crc = Zlib.crc32(buffer[0..<n], seed: crc)
            consumed += n
            start = 0
            end = n
        }

        func bytes(_ count: Int) throws -> [UInt8] {
            try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                try copy(into: UnsafeMutableRawBufferPointer(buffer))
                initialized = count
            }
        }

        func u32() throws -> UInt32 {
            var value: UInt32 = 0
            try withUnsafeMutableBytes(of: &value) { try copy(into: $0) }
            return UInt32(littleEndian: value)
        }

        func u64() throws -> UInt64 {
            var value: UInt64 = 0
            try withUnsafeMutableBytes(of: &value) { try copy(into: $0) }
            return UInt64(littleEndian: value)
        }

        /// A count of items that must fit in what is left of the file (so damage can't make us
        /// allocate absurd amounts).
        func count(minimumItemSize: Int) throws -> Int {
            let n = Int(try u32())
            guard n * max(1, minimumItemSize) <= dataSize - consumed + (end - start) else { throw Malformed() }
            return n
        }

        /// The next u32 without consuming it (a capacity hint), 0 when unavailable.
        func peekCount() throws -> Int {
            guard end - start >= 4 else { return 0 }
            let n = Int(buffer.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self)) })
            return min(n, (dataSize - consumed + end - start) / 8)
        }

        func string() throws -> String {
            let bytes = try bytes(try count(minimumItemSize: 1))
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}

/// The snapshot writer's half that reads a `RecordIndex` (in an extension, so the memberwise init stays).
extension IndexSnapshot {
    /// The snapshot of `index` as of the log's `logSize`: facets numbered, documents in doc id order.
    init(of index: RecordIndex, logSize: Int) {
        var facetNumbers: [ObjectIdentifier: UInt32] = [:]
        var facets: [Facets] = []
        for facet in index.facets.all {
            facetNumbers[ObjectIdentifier(facet)] = UInt32(facets.count)
            facets.append(facet)
        }
        // Every record's facets were interned in the index's table, so each has a number.
        let documents = index.records.values.sorted { $0.docID < $1.docID }.map { record in
            Document(id: record.id, docID: record.docID, version: record.version, updatedAt: record.updatedAt,
                     rawLength: record.rawLength, facet: facetNumbers[ObjectIdentifier(record.facets)]!)
        }
        self.init(logSize: logSize, nextDocID: index.nextDocID, facets: facets, documents: documents, search: index.search)
    }
}
