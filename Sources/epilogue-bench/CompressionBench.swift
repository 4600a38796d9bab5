import ArgumentParser
import EpilogueProtocol
import EpilogueShared
import EpilogueStore
import Foundation
import NIOCore

/// Compares ways to compress record bodies on real prose: each record alone, each record with a
/// preset dictionary (the shipped one, and one taken from the corpus itself), and blocks of
/// records compressed together.
struct CompressionBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compression", abstract: "Bytes on disk per compression scheme.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py).") var corpus: String
    @Option(help: "Records to measure.") var count = 20_000

    func run() throws {
        let records = try Corpus.load(corpus, limit: count).records
        let bodies = records.map { Array(buffer: RecordBody.encode($0.content)) }
        let raw = bodies.reduce(0) { $0 + $1.count }
        // Per-entry framing in records.log besides the body: crc, length, kind, id, version, time, encoding, dictionary, raw length.
        let framing = records.reduce(0) { $0 + 8 + 1 + 2 + $1.id.utf8.count + 8 + 8 + 1 + 4 + 4 }
        var rows: [(String, Int)] = []
        rows.append(("zlib per record", try bodies.reduce(0) { $0 + (try Zlib.compress($1, level: 9)).count }))
        rows.append(("zlib per record + shipped dictionary v1", try bodies.reduce(0) { $0 + (try BodyCompression.compress($1)).bytes.count }))
        // A dictionary from the corpus's own first records: what a trained dictionary can reach.
        var sample: [UInt8] = []
        for body in bodies.prefix(200) { sample += body }
        let trained = Array(sample.suffix(32 * 1024 - 262))
        let held = bodies.dropFirst(200)
        let trainedTotal = try held.reduce(0) { $0 + (try Zlib.compress($1, dictionary: trained, level: 9)).count }
        rows.append(("zlib per record + corpus dictionary (records 201+)", trainedTotal * bodies.count / max(1, held.count)))
        for block in [16, 64, 256] {
            var total = 0
            for start in stride(from: 0, to: bodies.count, by: block) {
                var joined: [UInt8] = []
                for body in bodies[start..<min(start + block, bodies.count)] { joined += body }
                total += try Zlib.compress(joined, level: 9).count
            }
            rows.append(("zlib blocks of \(block) records", total))
        }
        print("records: \(bodies.count), raw body bytes: \(raw), log framing: \(framing) bytes")
        print("scheme".padding(toLength: 52, withPad: " ", startingAt: 0) + "   bytes      raw/bytes  raw/(bytes+framing)")
        for (name, bytes) in rows {
            print(name.padding(toLength: 52, withPad: " ", startingAt: 0)
                  + String(format: " %10d   %8.2f   %8.2f", bytes, Double(raw) / Double(bytes), Double(raw) / Double(bytes + framing)))
        }
        print("RESULT bench=compression records=\(bodies.count) raw=\(raw) " + rows.map { "\($0.0.replacingOccurrences(of: " ", with: "_"))=\($0.1)" }.joined(separator: " "))
    }
}
