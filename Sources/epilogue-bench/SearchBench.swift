import ArgumentParser
import EpilogueProtocol
import EpilogueModel
import EpilogueStorage
import Foundation
import Logging

/// The store's search path in-process (ranking, filtering, snippets) on a corpus, timed the
/// same way bench/fts5-bench.py times SQLite FTS5 on the same queries.
struct SearchBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "SEARCH queries per second, in-process.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py).") var corpus: String?
    @Option(help: "Records to load.") var count = 100_000
    @Option(name: .customLong("data-dir"), help: "Open this populated data directory (epilogue-bench populate) instead of loading --corpus.")
    var dataDirectory: String?
    @Option(help: "File of queries, one per line.") var queries: String
    @Option(help: "Seconds to run the query loop.") var seconds = 5.0
    @Option(help: "Top-k per query.") var limit = 10

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = dataDirectory == nil ? .error : .info  // start-up phases of an existing directory
        let store: RecordStore
        let loadStart = ContinuousClock.now
        var ids: [String] = []
        var temporary: String?
        defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
        if let dataDirectory {
            store = try await RecordStore(configuration: .init(dataDirectory: dataDirectory, fsync: .never, loadBundledDataset: false), logger: logger)
        } else {
            guard let corpus else { throw ValidationError("give --corpus or --data-dir") }
            let records = try Corpus.load(corpus, limit: count).records
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("epilogue-bench-\(UUID().uuidString)").path
            temporary = dir
            store = try await RecordStore(configuration: .init(dataDirectory: dir, fsync: .never, loadBundledDataset: false), logger: logger)
            for record in records { _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil) }
            ids = records.map(\.id)
        }
        defer { store.close() }
        let loadTime = ContinuousClock.now - loadStart
        let records = store.figures().records
        let memory = ProcessMemory.current()
        let queryList = try String(contentsOfFile: queries, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        var done = 0, hits = 0
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + .milliseconds(Int(seconds * 1000))
        var latencies: [Double] = []
        let cpuStart = ProcessMemory.cpuSeconds()
        while clock.now < end {
            for query in queryList {
                let t0 = clock.now
                hits += try store.search(query, filter: RecordFilter(), limit: limit).results.count
                let d = clock.now - t0
                latencies.append(Double(d.components.attoseconds) / 1e12 + Double(d.components.seconds) * 1e6)
                done += 1
            }
        }
        let elapsed = clock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // Queries per CPU-second: on a shared, loaded machine wall-clock rates mostly measure the neighbours.
        let cpuQPS = Double(done) / max(1e-9, ProcessMemory.cpuSeconds() - cpuStart)
        latencies.sort()
        let p50 = latencies[latencies.count / 2], p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        if ids.isEmpty { ids = store.query(RecordFilter(), limit: 100_000, offset: 0).records.map(\.id) }
        let gets = try Self.getRate(store, ids: ids, seconds: seconds)
        print(String(format: "loaded %d records in %.1f s (RSS %d MiB, peak %d MiB); %d queries in %.2f s: %.0f queries/s, p50 %.0f µs, p99 %.0f µs, %d hits; GET %.0f per CPU-second, search %.0f per CPU-second",
                     records, Double(loadTime.components.seconds), memory.rss >> 20, memory.peak >> 20, done, secs, Double(done) / secs, p50, p99, hits, gets, cpuQPS))
        print(String(format: "RESULT bench=search engine=epilogue records=%d qps=%.0f p50_us=%.0f p99_us=%.0f get_per_cpu_s=%.0f rss_mib=%d peak_rss_mib=%d cpu_qps=%.0f",
                     records, Double(done) / secs, p50, p99, gets, memory.rss >> 20, memory.peak >> 20, cpuQPS))
    }

    /// GETs per CPU-second (lookup and inflate) on random ids, one thread.
    static func getRate(_ store: RecordStore, ids: [String], seconds: Double) throws -> Double {
        guard !ids.isEmpty else { return 0 }
        let cpuStart = ProcessMemory.cpuSeconds()
        var rng = SystemRandomNumberGenerator()
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        var done = 0
        while clock.now < end {
            for _ in 0..<256 { _ = try store.get(id: ids[Int.random(in: 0..<ids.count, using: &rng)]) }
            done += 256
        }
        return Double(done) / max(1e-9, ProcessMemory.cpuSeconds() - cpuStart)
    }
}

/// This process's resident memory, from /proc/self/status (Linux; zeros elsewhere).
struct ProcessMemory {
    var rss = 0
    var peak = 0

    /// CPU time this process has used (all threads).
    static func cpuSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func current() -> ProcessMemory {
        var memory = ProcessMemory()
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return memory }
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kib = Int(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { memory.rss = kib << 10 }
            if parts[0] == "VmHWM:" { memory.peak = kib << 10 }
        }
        return memory
    }
}
