import ArgumentParser
import EpilogueProtocol
import EpilogueShared
import EpilogueStore
import Foundation
import Logging

/// The store's search path in-process (ranking, filtering, snippets) on a corpus, timed the
/// same way bench/fts5-bench.py times SQLite FTS5 on the same queries.
struct SearchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "SEARCH queries per second, in-process.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py).") var corpus: String
    @Option(help: "Records to load.") var count = 100_000
    @Option(help: "File of queries, one per line.") var queries: String
    @Option(help: "Seconds to run the query loop.") var seconds = 5.0
    @Option(help: "Top-k per query.") var limit = 10

    func run() async throws {
        let records = try Corpus.load(corpus, limit: count).records
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let store = try await RecordStore(configuration: .init(dataDirectory: dir, fsync: .never, loadBundledDataset: false), logger: logger)
        defer { store.close() }
        let loadStart = ContinuousClock.now
        for record in records { _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil) }
        let loadTime = ContinuousClock.now - loadStart
        let queryList = try String(contentsOfFile: queries, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        var done = 0, hits = 0
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var latencies: [Double] = []
        while clock.now < end {
            for query in queryList {
                let t0 = clock.now
                hits += store.search(query, filter: RecordFilter(), limit: limit).count
                let d = clock.now - t0
                latencies.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
                done += 1
            }
        }
        let elapsed = clock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        latencies.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        print(String(format: "loaded %d records in %.1f s; %d queries in %.2f s: %.0f queries/s, p50 %.0f µs, p99 %.0f µs, %d hits",
                     records.count, Double(loadTime.components.seconds), done, secs, Double(done) / secs, p50, p99, hits))
        print(String(format: "RESULT bench=search engine=epilogue records=%d qps=%.0f p50_us=%.0f p99_us=%.0f", records.count, Double(done) / secs, p50, p99))
    }
}
