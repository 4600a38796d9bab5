import EpilogueModel
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage

/// The renderer writes its bytes by hand; these pin them to what the gateway sent before: JSON as
/// Foundation's `JSONSerialization` wrote it on Linux (`.sortedKeys`, `.withoutEscapingSlashes`)
/// and text records as `field: value` lines framed one by one. Both old renderers live here only,
/// as the oracles, over the bundled dataset and over generated records with awkward strings.
@Suite struct TextRendererOracleTests {
    private let json = TextRenderer(format: .json)
    private let text = TextRenderer(format: .text)

    @Test func jsonRecordsOfTheBundledDatasetAreByteForByteJSONSerializations() throws {
        for (index, entry) in try BundledDataset.load().enumerated() {
            let record = Record(id: entry.id, content: entry.content, version: UInt64(index + 1), updatedAt: 1_700_000_000_000 + Int64(index) * 86_400_007)
            #expect(Self.string(json.record(record)) == Oracle.json(record) + "\r\n", "\(entry.id)")
        }
    }

    @Test func textRecordsOfTheBundledDatasetAreByteForByteTheLineRenderersOutput() throws {
        for entry in try BundledDataset.load() {
            let record = Record(id: entry.id, content: entry.content, version: 7, updatedAt: 1_481_241_600_000)
            #expect(Self.string(text.record(record)) == Oracle.framed(Oracle.textLines(record)), "\(entry.id)")
        }
    }

    @Test func recordsWithAwkwardStringsRenderByteForByteAsBeforeInBothFormats() {
        let seed = TestSeed()
        var generator = seed.generator
        for _ in 0..<500 {
            let record = Self.awkwardRecord(using: &generator)
            #expect(Self.string(json.record(record)) == Oracle.json(record) + "\r\n", "\(seed)")
            #expect(Self.string(text.record(record)) == Oracle.framed(Oracle.textLines(record)), "\(seed)")
        }
    }

    @Test func hitsFilmsThemesAndStatsInJSONAreByteForByteJSONSerializations() {
        let seed = TestSeed()
        var generator = seed.generator
        let scores: [Double] = [-1.544, -2, 0, -0.0, 1e-6, -1.25e-7, 1e16, 123456789.125, .nan, .infinity, -.infinity, .pi]
        for _ in 0..<300 {
            let score = Bool.random(using: &generator) ? scores.randomElement(using: &generator)!
                : Double(bitPattern: generator.next())  // any double, NaN payloads and subnormals included
            let hit = SearchHit(id: Self.awkward(using: &generator), score: score, film: Self.awkward(using: &generator),
                                subject: Self.awkward(using: &generator), snippet: Self.awkward(using: &generator))
            #expect(Self.string(json.hits([hit])) == Oracle.json(["id": hit.id, "score": hit.score, "film": hit.film,
                                                                  "subject": hit.subject, "snippet": hit.snippet]) + "\r\n", "\(seed)")
            let film = (film: Self.awkward(using: &generator), year: Int.random(in: -5000...5000, using: &generator),
                        director: Self.awkward(using: &generator), records: Int.random(in: 0...Int.max, using: &generator))
            #expect(Self.string(json.films([film])) == Oracle.json(["film": film.film, "year": film.year, "director": film.director,
                                                                    "records": film.records]) + "\r\n", "\(seed)")
            let theme = (theme: Self.awkward(using: &generator), records: Int.random(in: Int.min...Int.max, using: &generator))
            #expect(Self.string(json.themes([theme])) == Oracle.json(["theme": theme.theme, "records": theme.records]) + "\r\n", "\(seed)")
            let figure = (name: Self.awkward(using: &generator), value: Self.awkward(using: &generator))
            #expect(Self.string(json.stats([figure])) == Oracle.json(["name": figure.name, "value": figure.value]) + "\r\n", "\(seed)")
        }
    }

    /// What JSONSerialization does on Linux, spelled out, so a reader need not run the oracle.
    @Test func jsonEscapesOnlyWhatJSONSerializationEscaped() {
        var buffer = ByteBuffer()
        JSONWriter.writeString("a/b \" \\ \u{8}\u{C}\n\r\t \u{0}\u{B}\u{1F} \u{7F} \u{2028}\u{2029} é 🎬", into: &buffer)
        #expect(String(buffer: buffer) == #""a/b \" \\ \b\f\n\r\t \u0000\u000b\u001f "# + "\u{7F} \u{2028}\u{2029} é 🎬\"")
        let numbers: [(Double, String)] = [(-2, "-2"), (-1.5, "-1.5"), (1e-6, "1e-06"), (1e16, "1e+16"), (0.1, "0.1")]
        for (value, expected) in numbers {
            buffer.clear()
            JSONWriter.writeNumber(value, into: &buffer)
            #expect(String(buffer: buffer) == expected)
        }
    }

    // MARK: Generated records

    /// Scalars JSON and the line framing treat specially, and ordinary ones around them.
    private static let pieces: [String] = [
        "a", "Z", " ", ".", "..", "/", "\"", "\\", "\n", "\r", "\r\n", "\n\r", "\t", "\u{0}", "\u{1}", "\u{8}", "\u{B}", "\u{C}",
        "\u{1F}", "\u{7F}", "\u{80}", "\u{85}", "\u{9F}", "é", "e\u{301}", ".\u{301}", "\u{2028}", "\u{2029}", "\u{FEFF}", "🎬",
        "👩‍👩‍👧", "{", "}", "[", "<", "0", "-", ":", ",", "ž", "日本",
    ]

    static func awkward(using generator: inout SplitMix64, maxPieces: Int = 12) -> String {
        (0..<Int.random(in: 0...maxPieces, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }

    static func awkwardRecord(using generator: inout SplitMix64) -> Record {
        let printable = (0x21...0x7E).map { String(UnicodeScalar(UInt8($0))) }
        let id = (0..<Int.random(in: 1...40, using: &generator)).map { _ in printable.randomElement(using: &generator)! }.joined()
        let content = RecordContent(
            film: awkward(using: &generator), year: Int.random(in: -99_999...99_999, using: &generator),
            director: awkward(using: &generator), subject: awkward(using: &generator),
            reading: awkward(using: &generator, maxPieces: 400), source: awkward(using: &generator),
            sourceKind: SourceKind.allCases.randomElement(using: &generator)!,
            themes: (0..<Int.random(in: 0...4, using: &generator)).map { _ in awkward(using: &generator, maxPieces: 4) })
        let updatedAt: Int64 = Bool.random(using: &generator) ? Int64.random(in: 0...4_102_444_800_000, using: &generator)
            : [0, 999, 1000, 86_399_999, 1_700_000_000_001, 1_700_000_000_010, 1_700_000_000_100].randomElement(using: &generator)!
        return Record(id: id, content: content, version: generator.next(), updatedAt: updatedAt)
    }

    static func string(_ body: TextBody) -> String { String(buffer: body.bytes) }
}

/// The renderer as it was before it wrote bytes by hand.
private enum Oracle {
    static func json(_ object: [String: Any]) -> String {
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    static func json(_ record: Record) -> String {
        let c = record.content
        return json([
            "id": record.id, "film": c.film, "year": c.year, "director": c.director, "subject": c.subject,
            "reading": c.reading, "source": c.source, "sourceKind": c.sourceKind.name, "themes": c.themes,
            "version": record.version, "updatedAt": isoDate(record.updatedAt),
        ])
    }

    static func textLines(_ record: Record) -> [String] {
        let c = record.content
        let fields: [(String, String)] = [
            ("id", record.id), ("film", c.film), ("year", "\(c.year)"), ("director", c.director), ("subject", c.subject),
            ("source", c.source), ("sourceKind", c.sourceKind.name), ("themes", c.themes.joined(separator: ", ")),
            ("version", "\(record.version)"), ("updatedAt", isoDate(record.updatedAt)),
        ]
        var lines = fields.map { "\("\($0.0):".rightPadded(to: 12)) \($0.1)" }
        let readingLines = c.reading.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.append("reading:     " + (readingLines.first.map { String(Substring($0)) } ?? ""))
        lines += readingLines.dropFirst().map { "             " + String(Substring($0)) }
        return lines
    }

    static func isoDate(_ milliseconds: Int64) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(milliseconds % 1000)
        let millis = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }

    /// The body lines as `TextResponse` framed them: split at CRLF, LF or CR, each dot-stuffed.
    static func framed(_ lines: [String]) -> String {
        var out: [UInt8] = []
        for line in lines {
            let bytes = Array(line.utf8)
            var start = 0
            var index = 0
            func physical(_ part: ArraySlice<UInt8>) {
                if part.first == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                out += part
                out += [0x0D, 0x0A]
            }
            while index < bytes.count {
                let byte = bytes[index]
                guard byte == 0x0A || byte == 0x0D else {
                    index += 1
                    continue
                }
                physical(bytes[start..<index])
                index += byte == 0x0D && index + 1 < bytes.count && bytes[index + 1] == 0x0A ? 2 : 1
                start = index
            }
            physical(bytes[start..<bytes.count])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
