import EpilogueProtocol
import EpilogueModel
import Foundation

/// Bulk import of a JSON-lines file (one record object per line, as EXPORT writes them) into a
/// store, in IMPORT batches.
///
/// Every line is checked here first — UTF-8, JSON, the record's fields, the store's validation
/// table — and a bad one is reported with its line number and left out; the rest go on. A line
/// longer than `maximumLineBytes` is reported without ever being held whole. A batch the store
/// refuses names the refused line (`line N: …`, e.g. a CONFLICT): that line is reported and the
/// batch is sent again without it, so one bad line never costs the others. A batch is applied by
/// the store all or nothing and acknowledged once durable; any other failure (the store gone, its
/// disk full) stops the import, and every batch acknowledged before it is in the store.
public enum JSONLinesImport {
    public struct Options: Sendable {
        public var existing: ImportExisting
        /// Write the file's `version` and `updatedAt` (a restore from EXPORT) instead of the next version and now.
        public var keepVersions: Bool
        public var batchRecords: Int
        public var batchBytes: Int
        public var maximumLineBytes: Int

        public init(existing: ImportExisting = .replace, keepVersions: Bool = false, batchRecords: Int = 1_000,
                    batchBytes: Int = 512 << 10, maximumLineBytes: Int = 1 << 20) {
            self.existing = existing
            self.keepVersions = keepVersions
            self.batchRecords = batchRecords
            self.batchBytes = batchBytes
            self.maximumLineBytes = maximumLineBytes
        }
    }

    public struct BadLine: Error, Sendable, Equatable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    public struct Report: Sendable {
        public var lines = 0
        public var counts = ImportCounts()
        public var batches = 0
        public var bad: [BadLine] = []
    }

    public struct Failed: Error, CustomStringConvertible {
        public var report: Report
        public var reason: String
        public var description: String {
            "\(reason) (\(report.counts.written) records acknowledged before it are durable; stopped after line \(report.lines))"
        }
    }

    /// One line of the file (without its newline) as an IMPORT item, or why not.
    public static func parse(_ bytes: some Collection<UInt8>, line: Int, keepVersions: Bool) -> Result<ImportItem, BadLine> {
        func bad(_ reason: String) -> Result<ImportItem, BadLine> { .failure(BadLine(line: line, reason: reason)) }
        var bytes = Array(bytes)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard String(validating: bytes, as: UTF8.self) != nil else { return bad("not valid UTF-8") }
        let object: Line
        do {
            object = try JSONDecoder().decode(Line.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            return bad("missing field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(_, context) {
            return bad("field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            return bad("field '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)")
        } catch {
            return bad("not a JSON object (truncated or malformed)")
        }
        guard let kind = SourceKind(name: object.sourceKind) else { return bad("sourceKind '\(object.sourceKind)' is not one of director, cast, critic, article, audience") }
        let content = RecordContent(film: object.film, year: object.year, director: object.director, subject: object.subject,
                                    reading: object.reading, source: object.source, sourceKind: kind, themes: object.themes ?? [])
        do {
            try RecordValidator.validate(id: object.id)
            try RecordValidator.validate(content)
        } catch {
            return bad("\(error)")
        }
        var item = ImportItem(line: UInt32(clamping: line), id: object.id, content: content, expectedVersion: object.ifversion)
        if keepVersions {
            item.version = object.version
            if let text = object.updatedAt {
                guard let ms = isoMilliseconds(text) else { return bad("updatedAt '\(text)' is not YYYY-MM-DDTHH:MM:SS.mmmZ") }
                item.updatedAt = ms
            }
        }
        return .success(item)
    }

    private struct Line: Decodable {
        var id: String
        var film: String
        var year: Int
        var director: String
        var subject: String
        var reading: String
        var source: String
        var sourceKind: String
        var themes: [String]?
        var version: UInt64?
        var updatedAt: String?
        var ifversion: UInt64?
    }

    /// `2016-12-09T00:00:00.000Z` (the text protocol's `updatedAt`) as ms since the epoch.
    static func isoMilliseconds(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        guard u.count == 24, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u[19] == 0x2E, u[23] == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for b in u[range] { guard (0x30...0x39).contains(b) else { return nil }; n = n * 10 + Int(b - 0x30) }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), let ms = number(20..<23) else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Int64(timegm(&parts)) * 1000 + Int64(ms)
    }

    /// Reads `path` line by line (a 1 MiB buffer, never the whole file) and imports it through
    /// `send`, which applies one IMPORT batch (`StoreClient.import`). `progress` gets each bad line
    /// as it is found.
    public static func run(path: String, options: Options,
                           send: (ImportExisting, [ImportItem]) async throws(StoreClientError) -> ImportCounts,
                           progress: (BadLine) -> Void = { _ in }) async throws -> Report {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failed(report: Report(), reason: "cannot open \(path)") }
        defer { try? handle.close() }
        var report = Report()
        var batch: [ImportItem] = []
        var batchBytes = 0
        var current: [UInt8] = []
        var tooLong = false
        var lineNumber = 0

        func flush() async throws {
            var items = batch
            batch = []
            batchBytes = 0
            while !items.isEmpty {
                do throws(StoreClientError) {
                    report.counts += try await send(options.existing, items)
                    report.batches += 1
                    return
                } catch .refused(let code, let message) {
                    // "line N: …": that item is refused; the batch was not applied — again without it.
                    guard message.hasPrefix("line "), let n = Int(message.dropFirst(5).prefix { $0.isNumber }),
                          let index = items.firstIndex(where: { Int($0.line) == n }) else {
                        throw Failed(report: report, reason: "the store refused a batch: \(code.name): \(message)")
                    }
                    let badLine = BadLine(line: n, reason: "\(code.name): \(message.drop { $0 != ":" }.dropFirst().drop { $0 == " " })")
                    report.bad.append(badLine)
                    progress(badLine)
                    items.remove(at: index)
                } catch {
                    throw Failed(report: report, reason: "the store did not take a batch: \(error)")
                }
            }
        }

        func finishLine(last: Bool) async throws {
            lineNumber += 1
            report.lines = lineNumber
            defer { current.removeAll(keepingCapacity: true); tooLong = false }
            if tooLong {
                let badLine = BadLine(line: lineNumber, reason: "longer than \(options.maximumLineBytes) bytes; skipped")
                report.bad.append(badLine)
                progress(badLine)
                return
            }
            if current.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }  // blank line
            switch parse(current, line: lineNumber, keepVersions: options.keepVersions) {
            case .success(let item):
                batch.append(item)
                batchBytes += current.count
                if batch.count >= options.batchRecords || batchBytes >= options.batchBytes { try await flush() }
            case .failure(var badLine):
                if last { badLine.reason += " (last line, no newline at the end: truncated?)" }
                report.bad.append(badLine)
                progress(badLine)
            }
        }

        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            var start = chunk.startIndex
            while start < chunk.endIndex {
                let newline = chunk[start...].firstIndex(of: 0x0A)
                let end = newline ?? chunk.endIndex
                if !tooLong {
                    if current.count + (end - start) > options.maximumLineBytes {
                        tooLong = true
                        current.removeAll()
                    } else {
                        current.append(contentsOf: chunk[start..<end])
                    }
                }
                guard let newline else { break }
                try await finishLine(last: false)
                start = newline + 1
            }
        }
        if !current.isEmpty || tooLong { try await finishLine(last: true) }
        try await flush()
        return report
    }
}
