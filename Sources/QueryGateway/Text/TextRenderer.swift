import EpilogueModel
import Foundation

/// Renders results as terminal text (aligned columns, `field: value` records) or as JSON lines
/// (one compact object per body line, for scripts).
public struct TextRenderer: Sendable {
    public var format: OutputFormat

    public init(format: OutputFormat) { self.format = format }

    public func record(_ record: Record) -> [String] {
        let c = record.content
        if format == .json {
            return [Self.json([
                "id": record.id, "film": c.film, "year": c.year, "director": c.director, "subject": c.subject,
                "reading": c.reading, "source": c.source, "sourceKind": c.sourceKind.name, "themes": c.themes,
                "version": record.version, "updatedAt": Self.isoDate(record.updatedAt),
            ])]
        }
        let fields: [(String, String)] = [
            ("id", record.id), ("film", c.film), ("year", "\(c.year)"), ("director", c.director), ("subject", c.subject),
            ("source", c.source), ("sourceKind", c.sourceKind.name), ("themes", c.themes.joined(separator: ", ")),
            ("version", "\(record.version)"), ("updatedAt", Self.isoDate(record.updatedAt)),
        ]
        // `field: value`, values aligned one column after the longest label ("sourceKind:").
        var lines = fields.map { "\("\($0.0):".rightPadded(to: 12)) \($0.1)" }
        // Split on the byte, not on Characters: grapheme iteration over a 1 KB reading was the
        // most expensive step of a GET (perf).
        // Most readings are one line: skip the split then (memchr on the UTF-8 bytes).
        var reading = c.reading
        let hasBreak = reading.withUTF8 { $0.isEmpty ? false : memchr($0.baseAddress!, 0x0A, $0.count) != nil }
        guard hasBreak else {
            lines.append("reading:     " + reading)
            return lines
        }
        let readingLines = c.reading.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.append("reading:     " + (readingLines.first.map { String(Substring($0)) } ?? ""))
        lines += readingLines.dropFirst().map { "             " + String(Substring($0)) }
        return lines
    }

    public func recordList(_ records: [Record]) -> [String] {
        if format == .json { return records.flatMap(record) }
        return Self.table(header: ["ID", "FILM", "SUBJECT", "SOURCE"],
                          rows: records.map { [$0.id, $0.content.film, $0.content.subject, $0.content.sourceKind.name] })
    }

    /// FIND's and SEARCH's status: which slice of how many matches, `3 of 12 records (1–3)`, or
    /// `0 of 12 records` for a page past the end.
    static func pageSummary(returned: Int, total: Int, offset: Int, noun: String) -> String {
        returned == 0 ? "0 of \(total) \(noun)" : "\(returned) of \(total) \(noun) (\(offset + 1)–\(offset + returned))"
    }

    /// Hits numbered from `firstRank` (a later page goes on where the previous one ended).
    public func hits(_ hits: [SearchHit], firstRank: Int = 1) -> [String] {
        if format == .json {
            return hits.map { Self.json(["id": $0.id, "score": $0.score, "film": $0.film, "subject": $0.subject, "snippet": $0.snippet]) }
        }
        var lines: [String] = []
        let width = hits.map(\.id.count).max() ?? 2
        for (rank, hit) in hits.enumerated() {
            // BM25 floors the weight of words found in most records at 1e-6: show such tiny scores legibly.
            let score = abs(hit.score) >= 0.001 || hit.score == 0 ? String(format: "%8.3f", hit.score) : String(format: "%8.1e", hit.score)
            lines.append("\(String(firstRank + rank).leftPadded(to: 2)). \(score)  \(hit.id.rightPadded(to: width))  \(hit.film) / \(hit.subject)")
            lines.append("              \(hit.snippet)")
        }
        return lines
    }

    public func films(_ films: [(film: String, year: Int, director: String, records: Int)]) -> [String] {
        if format == .json { return films.map { Self.json(["film": $0.film, "year": $0.year, "director": $0.director, "records": $0.records]) } }
        return Self.table(header: ["FILM", "YEAR", "DIRECTOR", "RECORDS"], rows: films.map { [$0.film, "\($0.year)", $0.director, "\($0.records)"] })
    }

    public func themes(_ themes: [(theme: String, records: Int)]) -> [String] {
        if format == .json { return themes.map { Self.json(["theme": $0.theme, "records": $0.records]) } }
        return Self.table(header: ["THEME", "RECORDS"], rows: themes.map { [$0.theme, "\($0.records)"] })
    }

    public func stats(_ stats: [(name: String, value: String)]) -> [String] {
        if format == .json { return stats.map { Self.json(["name": $0.name, "value": $0.value]) } }
        return Self.table(header: ["NAME", "VALUE"], rows: stats.map { [$0.name, $0.value] })
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

    static func json(_ object: [String: Any]) -> String {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// `2016-12-09T00:00:00.000Z`. Formatted by hand: creating an ISO8601DateFormatter per record
    /// cost more than the rest of a GET together.
    static func isoDate(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(milliseconds % 1000)
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
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
