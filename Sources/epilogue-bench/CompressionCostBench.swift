import ArgumentParser
import EpilogueProtocol
import EpilogueCompression
import EpilogueModel
import EpilogueStorage
import Foundation
import NIOCore

/// What one record body costs to deflate on the PUT path and to inflate on the GET path: without a
/// dictionary, with the shipped dictionary 1 (zlib format) and with a 32 KiB dictionary trained on
/// the first `--sample` records (raw deflate, as the store writes), each with a fresh zlib stream
/// per record and through the store's `DictionarySet` (deflate from a copy of a primed stream,
/// inflate with the zlib wrapper checked against the dictionary id it knows).
/// Prints the median of `--runs` passes, in thread CPU time (steady on a shared machine) and in
/// wall time.
struct CompressionCostBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression-cost", abstract: "µs per record to deflate and to inflate one body.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py); without it, the bundled dataset.") var corpus: String?
    @Option(help: "Records to time (the ones after the training sample).") var count = 2_000
    @Option(help: "Records the dictionary is trained on (the first ones; the whole dataset without --corpus).")
    var sample = 1_000
    @Option(help: "Timed passes over the records; medians are printed.") var runs = 7

    func run() throws {
        let (training, timed) = try bodies()
        let trained = CompressionDictionary(id: DictionarySet.firstTrainedID, bytes: DictionaryTrainer().train(training))
        let raw = timed.reduce(0) { $0 + $1.count }
        print("\(timed.count) records of \(raw / max(1, timed.count)) bytes on average; trained dictionary \(trained.bytes.count) bytes; "
              + "shipped dictionary 1 \(CompressionDictionary.v1.bytes.count) bytes; median of \(runs) runs")
        print("case".padding(toLength: 44, withPad: " ", startingAt: 0) + "  deflate µs (cpu / wall)  inflate µs (cpu / wall)  bytes")
        let shipped = CompressionDictionary.v1
        let store = DictionarySet(trained: [trained])
        let ways: [Way] = [
            Way(name: "no dictionary, level \(DictionarySet.level)", dictionary: nil, raw: false, set: nil),
            Way(name: "dictionary 1, fresh stream per record", dictionary: shipped, raw: false, set: nil),
            Way(name: "dictionary 1, DictionarySet", dictionary: shipped, raw: false, set: DictionarySet()),
            Way(name: "trained, fresh stream per record", dictionary: trained, raw: true, set: nil),
            Way(name: "trained, DictionarySet", dictionary: trained, raw: true, set: store),
        ]
        for way in ways {
            var packed: [[UInt8]] = []
            let deflate = try measure(runs: runs, count: timed.count) { packed = try timed.map(way.compress) }
            let inflate = try measure(runs: runs, count: timed.count) {
                for (index, bytes) in packed.enumerated() where try way.decompress(bytes) != timed[index] {
                    throw ValidationError("\(way.name): record \(index) did not round-trip")
                }
            }
            let bytes = packed.reduce(0) { $0 + $1.count } / max(1, packed.count)
            print(way.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(format: "  %9.1f / %9.1f     %9.1f / %9.1f   %5d", deflate.cpu, deflate.wall, inflate.cpu, inflate.wall, bytes))
            let key = way.name.replacingOccurrences(of: ", ", with: "/").replacingOccurrences(of: " ", with: "_")
            print("RESULT bench=compression-cost case=\(key) deflate_cpu_us=\(String(format: "%.1f", deflate.cpu)) "
                  + "deflate_wall_us=\(String(format: "%.1f", deflate.wall)) inflate_cpu_us=\(String(format: "%.1f", inflate.cpu)) "
                  + "inflate_wall_us=\(String(format: "%.1f", inflate.wall)) bytes_per_record=\(bytes)")
        }
    }

    /// One way to pack a body: a fresh zlib stream per record (`Zlib.compress`/`decompress`, the
    /// store's path before primed streams), or the store's `DictionarySet`.
    private struct Way {
        var name: String
        var dictionary: CompressionDictionary?
        var raw: Bool
        var set: DictionarySet?

        func compress(_ body: [UInt8]) throws -> [UInt8] {
            if let set { return try set.compress(body).bytes }
            return try Zlib.compress(body, dictionary: dictionary?.bytes, level: DictionarySet.level, raw: raw)
        }

        func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
            if let set, let dictionary { return try set.decompress(bytes, dictionaryID: dictionary.id) }
            return try Zlib.decompress(bytes, dictionary: dictionary?.bytes, raw: raw)
        }
    }

    /// Training and timed bodies: from the corpus, or from the bundled dataset (trained on its even
    /// records, timed on its odd ones, repeated up to `count`).
    private func bodies() throws -> (training: [[UInt8]], timed: [[UInt8]]) {
        guard let corpus else {
            let dataset = try BundledDataset.load().map { RecordBody.bytes(of: $0.content) }
            let (even, odd) = (stride(from: 0, to: dataset.count, by: 2), stride(from: 1, to: dataset.count, by: 2))
            let held = odd.map { dataset[$0] }
            return (even.map { dataset[$0] }, (0..<count).map { held[$0 % held.count] })
        }
        let all = try Corpus.load(corpus, limit: sample + count).records.map { RecordBody.bytes(of: $0.content) }
        return (Array(all.prefix(sample)), Array(all.dropFirst(sample)))
    }

    /// Median µs per record over `runs` passes of `pass`, in this thread's CPU time and in wall time.
    private func measure(runs: Int, count: Int, _ pass: () throws -> Void) rethrows -> (cpu: Double, wall: Double) {
        var cpu: [Double] = [], wall: [Double] = []
        for _ in 0..<max(1, runs) {
            let (cpuStart, wallStart) = (Self.threadCPUMicros(), Self.wallMicros())
            try pass()
            cpu.append((Self.threadCPUMicros() - cpuStart) / Double(max(1, count)))
            wall.append((Self.wallMicros() - wallStart) / Double(max(1, count)))
        }
        return (Self.median(cpu), Self.median(wall))
    }

    private static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    private static func threadCPUMicros() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1e6 + Double(now.tv_nsec) / 1e3
    }

    private static func wallMicros() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) * 1e6 + Double(now.tv_nsec) / 1e3
    }
}
