import ArgumentParser
import EpilogueProtocol
import EpilogueCompression
import EpilogueModel
import EpilogueStorage
import Foundation
import NIOCore

/// Compares ways to compress record bodies on real prose: each record alone, each record with a
/// preset dictionary (the shipped one, one cut from the corpus, ones trained on it), and blocks of
/// records compressed together. Dictionaries are trained on the first `--sample` records and
/// measured on the rest, scaled to the whole count.
struct CompressionBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compression", abstract: "Bytes on disk per compression scheme.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py).") var corpus: String
    @Option(help: "Records to measure.") var count = 20_000
    @Option(help: "Records dictionaries are trained on (the first ones).") var sample = 1_000
    @Option(help: "Extra trainer settings to try, as segment:dmer (e.g. 128:8,512:6).") var trainerSettings: String = ""

    func run() throws {
        let records = try Corpus.load(corpus, limit: count).records
        let bodies = records.map { RecordBody.bytes(of: $0.content) }
        let raw = bodies.reduce(0) { $0 + $1.count }
        // Per-entry framing in records.log besides the body: crc, length, kind, id, version, time, encoding, dictionary, raw length.
        let framing = records.reduce(0) { $0 + 8 + 1 + 2 + $1.id.utf8.count + 8 + 8 + 1 + 4 + 4 }
        var rows: [(String, Int)] = []
        rows.append(("zlib per record", try bodies.reduce(0) { $0 + (try Zlib.compress($1, level: 9)).count }))
        rows.append(("zlib per record + shipped dictionary v1", try bodies.reduce(0) { $0 + (try BodyCompression.compress($1)).bytes.count }))

        let training = Array(bodies.prefix(sample))
        let held = bodies.dropFirst(sample)
        // Bytes for the held-out records scaled to all records, plus the dictionary itself.
        // At the store's level (DictionarySet.level), so the rows say what the store would write.
        func withDictionary(_ dictionary: [UInt8], raw rawDeflate: Bool = false) throws -> Int {
            let total = try held.reduce(0) { $0 + (try Zlib.compress($1, dictionary: dictionary, level: DictionarySet.level, raw: rawDeflate)).count }
            return total * bodies.count / max(1, held.count) + dictionary.count
        }
        var cut: [UInt8] = []
        for body in training { cut += body }
        rows.append(("+ dictionary cut from the sample", try withDictionary(Array(cut.suffix(DictionaryTrainer.maximumCapacity)))))

        var settings = [(128, 6)]
        for item in trainerSettings.split(separator: ",") {
            let parts = item.split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { settings.append((parts[0], parts[1])) }
        }
        for (segment, dmer) in settings {
            let clock = ContinuousClock()
            let started = clock.now
            let dictionary = DictionaryTrainer(segmentLength: segment, dmerLength: dmer).train(training)
            let elapsed = clock.now - started
            print("trained k=\(segment) d=\(dmer) on \(training.count) records in \(elapsed)")
            rows.append(("+ trained dictionary k=\(segment) d=\(dmer)", try withDictionary(dictionary)))
            rows.append(("+ trained dictionary k=\(segment) d=\(dmer), raw deflate", try withDictionary(dictionary, raw: true)))
        }
        for block in [16, 64] {
            var total = 0
            for start in stride(from: 0, to: bodies.count, by: block) {
                var joined: [UInt8] = []
                for body in bodies[start..<min(start + block, bodies.count)] { joined += body }
                total += try Zlib.compress(joined, level: 9).count
            }
            rows.append(("zlib blocks of \(block) records", total))
        }
        print("records: \(bodies.count), raw body bytes: \(raw), log framing: \(framing) bytes; dictionary rows include the dictionary")
        print("scheme".padding(toLength: 52, withPad: " ", startingAt: 0) + "   bytes      raw/bytes  raw/(bytes+framing)")
        for (name, bytes) in rows {
            print(name.padding(toLength: 52, withPad: " ", startingAt: 0)
                  + String(format: " %10d   %8.2f   %8.2f", bytes, Double(raw) / Double(bytes), Double(raw) / Double(bytes + framing)))
        }
        print("RESULT bench=compression records=\(bodies.count) raw=\(raw) " + rows.map { "\($0.0.replacingOccurrences(of: " ", with: "_"))=\($0.1)" }.joined(separator: " "))
    }
}
