import ArgumentParser
import EpilogueModel
import EpilogueShared
import EpilogueStorage
import Foundation
import Logging

/// Fills a data directory with a corpus by writing straight into a `RecordStore` in-process:
/// no network, no fsync while loading, one fsync at the end. The result is an ordinary data
/// directory that `epilogue-store --data-dir` serves (and the load benchmarks start from).
struct PopulateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "populate", abstract: "Write a corpus into a data directory, in-process, as fast as possible.")

    @Option(help: "Corpus (JSON lines from bench/make-corpus.py).") var corpus: String
    @Option(help: "Records to write (the first N lines).") var count = Int.max
    @Option(name: .customLong("data-dir"), help: "Data directory to write (created if absent).") var dataDirectory: String
    @Option(help: "Concurrent writers (compression runs in parallel; the log append is serialised).")
    var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Flag(name: .customLong("bundled-dataset"), help: "Also load the bundled dataset when the directory is new.")
    var bundledDataset = false

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let store = try await RecordStore(
            configuration: .init(dataDirectory: dataDirectory, fsync: .never, loadBundledDataset: bundledDataset),
            logger: logger)
        // Maintenance (dictionary training, compaction) runs in the store's `run()`, as in the
        // server: without it the log would be written with the built-in dictionary only.
        let maintenance = Task { try await store.run() }
        let lines = try CorpusLines(path: corpus)
        let clock = ContinuousClock()
        let start = clock.now
        var written = 0
        let batchSize = 4096
        let jobs = max(1, self.jobs)
        while written < count {
            let batch = lines.next(min(batchSize, count - written))
            if batch.isEmpty { break }
            try await withThrowingTaskGroup(of: Void.self) { group in
                let share = (batch.count + jobs - 1) / jobs
                for part in stride(from: 0, to: batch.count, by: share) {
                    let slice = batch[part..<min(part + share, batch.count)]
                    group.addTask {
                        let decoder = JSONDecoder()
                        for line in slice {
                            let record = try decoder.decode(RecordJSON.self, from: line)
                            _ = try await store.put(id: record.id, content: record.content, expectedVersion: nil)
                        }
                    }
                }
                try await group.waitForAll()
            }
            written += batch.count
        }
        // Ends maintenance: a job in progress (a training) finishes, then the store closes.
        maintenance.cancel()
        try await maintenance.value
        try Self.syncFile(dataDirectory + "/records.log")
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let figures = store.figures()
        print(String(format: "wrote %d records in %.1f s: %.0f records/s; %d live records, raw %d bytes, log %d bytes",
                     written, seconds, Double(written) / seconds, figures.records, figures.rawBytes, figures.logBytes))
        print(String(format: "RESULT bench=populate records=%d seconds=%.2f records_per_s=%.0f raw_bytes=%d log_bytes=%d",
                     written, seconds, Double(written) / seconds, figures.rawBytes, figures.logBytes))
    }

    /// The store wrote with fsync never: make the whole file durable once.
    private static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open \(path) to sync it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ValidationError("fsync of \(path) failed (errno \(errno))") }
    }
}

/// Reads a JSON-lines file a batch of lines at a time, so a million-record corpus is never held
/// in memory whole.
final class CorpusLines {
    private let file: UnsafeMutablePointer<FILE>

    init(path: String) throws {
        guard let file = fopen(path, "r") else { throw ValidationError("cannot open corpus \(path)") }
        self.file = file
    }

    deinit { fclose(file) }

    /// Up to `count` non-empty lines; fewer (or none) at the end of the file.
    func next(_ count: Int) -> [Data] {
        var out: [Data] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while out.count < count {
            let n = getline(&line, &capacity, file)
            guard n > 0, let line else { break }
            var length = n
            if line[length - 1] == 10 { length -= 1 }
            if length > 0 { out.append(Data(bytes: line, count: length)) }
        }
        return out
    }
}
