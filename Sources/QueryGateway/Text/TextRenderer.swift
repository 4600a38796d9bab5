import EpilogueModel
import Foundation
import NIOCore

/// Renders results as terminal text (aligned columns, `field: value` records) or as JSON lines
/// (one compact object per body line, for scripts), into the body as it goes on the wire.
public struct TextRenderer: Sendable {
    public var format: OutputFormat

    public init(format: OutputFormat) { self.format = format }

    public func record(_ record: Record) -> TextBody {
        var body = TextBody(capacity: Self.estimatedSize(of: record))
        self.record(record, into: &body)
        return body
    }

    public func record(_ record: Record, into body: inout TextBody) {
        guard format == .text else { return body.appendUnbrokenLine { Self.writeJSON(record, into: &$0) } }
        let c = record.content
        // `field: value`, values aligned one column after the longest label ("sourceKind:").
        body.appendLine(prefix: "id:          ", record.id)
        body.appendLine(prefix: "film:        ", c.film)
        body.appendLine(prefix: "year:        ", String(c.year))
        body.appendLine(prefix: "director:    ", c.director)
        body.appendLine(prefix: "subject:     ", c.subject)
        body.appendLine(prefix: "source:      ", c.source)
        body.appendLine(prefix: "sourceKind:  ", c.sourceKind.name)
        body.appendLine(prefix: "themes:      ", c.themes.joined(separator: ", "))
        body.appendLine(prefix: "version:     ", String(record.version))
        body.appendUnbrokenLine { buffer in
            buffer.writeStaticString("updatedAt:   ")
            Self.writeISODate(record.updatedAt, into: &buffer)
        }
        // The reading last, its lines under each other; split on the byte, not on Characters
        // (grapheme iteration over a 1 KB reading was the most expensive step of a GET, perf).
        var reading = c.reading
        reading.withUTF8 { bytes in
            // Most readings are one line (memchr rather than a loop over every byte).
            guard let base = bytes.baseAddress, memchr(base, 0x0A, bytes.count) != nil else {
                return body.appendLine(prefix: "reading:     ", bytes)
            }
            var start = 0
            var prefix: StaticString = "reading:     "
            for index in 0..<bytes.count where bytes[index] == 0x0A {
                body.appendLine(prefix: prefix, UnsafeBufferPointer(rebasing: bytes[start..<index]))
                prefix = "             "
                start = index + 1
            }
            body.appendLine(prefix: prefix, UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]))
        }
    }

    public func recordList(_ records: [Record]) -> TextBody {
        guard format == .text else {
            var body = TextBody(capacity: records.reduce(0) { $0 + Self.estimatedSize(of: $1) })
            for record in records { self.record(record, into: &body) }
            return body
        }
        return TextBody(lines: Self.table(header: ["ID", "FILM", "SUBJECT", "SOURCE"],
                                          rows: records.map { [$0.id, $0.content.film, $0.content.subject, $0.content.sourceKind.name] }))
    }

    /// FIND's and SEARCH's status: which slice of how many matches, `3 of 12 records (1–3)`, or
    /// `0 of 12 records` for a page past the end.
    static func pageSummary(returned: Int, total: Int, offset: Int, noun: String) -> String {
        returned == 0 ? "0 of \(total) \(noun)" : "\(returned) of \(total) \(noun) (\(offset + 1)–\(offset + returned))"
    }

    /// Hits numbered from `firstRank` (a later page goes on where the previous one ended).
    public func hits(_ hits: [SearchHit], firstRank: Int = 1) -> TextBody {
        if format == .json {
            var body = TextBody(capacity: hits.count * 256)
            for hit in hits {
                body.appendUnbrokenLine { buffer in
                    // JSONSerialization refused a non-finite number and the line was `{}`: kept.
                    guard hit.score.isFinite else {
                        buffer.writeStaticString("{}")
                        return
                    }
                    JSONWriter.writeMember(#"{"film":"#, hit.film, into: &buffer)
                    JSONWriter.writeMember(#","id":"#, hit.id, into: &buffer)
                    JSONWriter.writeMember(#","score":"#, hit.score, into: &buffer)
                    JSONWriter.writeMember(#","snippet":"#, hit.snippet, into: &buffer)
                    JSONWriter.writeMember(#","subject":"#, hit.subject, into: &buffer)
                    buffer.writeStaticString("}")
                }
            }
            return body
        }
        var lines: [String] = []
        let width = hits.map(\.id.count).max() ?? 2
        for (rank, hit) in hits.enumerated() {
            // BM25 floors the weight of words found in most records at 1e-6: show such tiny scores legibly.
            let score = abs(hit.score) >= 0.001 || hit.score == 0 ? String(format: "%8.3f", hit.score) : String(format: "%8.1e", hit.score)
            lines.append("\(String(firstRank + rank).leftPadded(to: 2)). \(score)  \(hit.id.rightPadded(to: width))  \(hit.film) / \(hit.subject)")
            lines.append("              \(hit.snippet)")
        }
        return TextBody(lines: lines)
    }

    public func films(_ films: [(film: String, year: Int, director: String, records: Int)]) -> TextBody {
        guard format == .text else {
            return Self.jsonLines(films) { film, buffer in
                JSONWriter.writeMember(#"{"director":"#, film.director, into: &buffer)
                JSONWriter.writeMember(#","film":"#, film.film, into: &buffer)
                JSONWriter.writeMember(#","records":"#, film.records, into: &buffer)
                JSONWriter.writeMember(#","year":"#, film.year, into: &buffer)
                buffer.writeStaticString("}")
            }
        }
        return TextBody(lines: Self.table(header: ["FILM", "YEAR", "DIRECTOR", "RECORDS"],
                                          rows: films.map { [$0.film, "\($0.year)", $0.director, "\($0.records)"] }))
    }

    public func themes(_ themes: [(theme: String, records: Int)]) -> TextBody {
        guard format == .text else {
            return Self.jsonLines(themes) { theme, buffer in
                JSONWriter.writeMember(#"{"records":"#, theme.records, into: &buffer)
                JSONWriter.writeMember(#","theme":"#, theme.theme, into: &buffer)
                buffer.writeStaticString("}")
            }
        }
        return TextBody(lines: Self.table(header: ["THEME", "RECORDS"], rows: themes.map { [$0.theme, "\($0.records)"] }))
    }

    public func stats(_ stats: [(name: String, value: String)]) -> TextBody {
        guard format == .text else {
            return Self.jsonLines(stats) { figure, buffer in
                JSONWriter.writeMember(#"{"name":"#, figure.name, into: &buffer)
                JSONWriter.writeMember(#","value":"#, figure.value, into: &buffer)
                buffer.writeStaticString("}")
            }
        }
        return TextBody(lines: Self.table(header: ["NAME", "VALUE"], rows: stats.map { [$0.name, $0.value] }))
    }

    /// A record as one JSON object, keys sorted: EXPORT's lines, FORMAT json's GET and FIND.
    public static func writeJSON(_ record: Record, into buffer: inout ByteBuffer) {
        let c = record.content
        JSONWriter.writeMember(#"{"director":"#, c.director, into: &buffer)
        JSONWriter.writeMember(#","film":"#, c.film, into: &buffer)
        JSONWriter.writeMember(#","id":"#, record.id, into: &buffer)
        JSONWriter.writeMember(#","reading":"#, c.reading, into: &buffer)
        JSONWriter.writeMember(#","source":"#, c.source, into: &buffer)
        JSONWriter.writeMember(#","sourceKind":"#, c.sourceKind.name, into: &buffer)
        JSONWriter.writeMember(#","subject":"#, c.subject, into: &buffer)
        JSONWriter.writeMember(#","themes":"#, c.themes, into: &buffer)
        buffer.writeStaticString(#","updatedAt":""#)
        writeISODate(record.updatedAt, into: &buffer)  // digits, '-', 'T', ':', '.', 'Z': nothing to escape
        JSONWriter.writeMember(#"","version":"#, record.version, into: &buffer)
        JSONWriter.writeMember(#","year":"#, c.year, into: &buffer)
        buffer.writeStaticString("}")
    }

    /// Room for a record in either format, so rendering it does not grow the buffer.
    static func estimatedSize(of record: Record) -> Int {
        let c = record.content
        return 320 + record.id.utf8.count + c.film.utf8.count + c.director.utf8.count + c.subject.utf8.count
            + c.source.utf8.count + c.reading.utf8.count + c.reading.utf8.count / 8 + c.themes.count * 52
    }

    private static func jsonLines<Row>(_ rows: [Row], _ write: (Row, inout ByteBuffer) -> Void) -> TextBody {
        var body = TextBody(capacity: rows.count * 96)
        for row in rows { body.appendUnbrokenLine { write(row, &$0) } }
        return body
    }

    /// Columns padded to their widest cell; the last column is not padded.
    static func table(header: [String], rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.rightPadded(to: widths[index])
            }.joined(separator: "  ")
        }
    }

    /// `2016-12-09T00:00:00.000Z`, written by hand: creating an ISO8601DateFormatter per record
    /// cost more than the rest of a GET together.
    static func writeISODate(_ milliseconds: Int64, into buffer: inout ByteBuffer) {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32, then separator: UInt8) {
            if n < 10 { buffer.writeInteger(UInt8(ascii: "0")) }
            buffer.writeString(String(n))
            buffer.writeInteger(separator)
        }
        buffer.writeString(String(parts.tm_year + 1900))
        buffer.writeInteger(UInt8(ascii: "-"))
        two(parts.tm_mon + 1, then: UInt8(ascii: "-"))
        two(parts.tm_mday, then: UInt8(ascii: "T"))
        two(parts.tm_hour, then: UInt8(ascii: ":"))
        two(parts.tm_min, then: UInt8(ascii: ":"))
        two(parts.tm_sec, then: UInt8(ascii: "."))
        let ms = Int(milliseconds % 1000)
        if ms < 100 { buffer.writeInteger(UInt8(ascii: "0")) }
        if ms < 10 { buffer.writeInteger(UInt8(ascii: "0")) }
        buffer.writeString(String(ms))
        buffer.writeInteger(UInt8(ascii: "Z"))
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }

    /// Pads to `width` Characters (Foundation's `padding(toLength:)` counts UTF-16 units and
    /// bridges through NSString, which showed up in GET profiles).
    func rightPadded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
