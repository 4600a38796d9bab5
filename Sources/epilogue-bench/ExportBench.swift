import ArgumentParser
import EpilogueModel
import EpilogueStoreClient
import Foundation
import Logging
import NIOCore
import NIOPosix

/// The binary EXPORT's rate: every record of a running store streamed through
/// `StoreClient.exportStream` (one connection, bodies inflated, nothing written out), to set beside
/// the gateway's EXPORT of the same store (`bench/data-in-out.sh`).
struct ExportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Records per second of the binary EXPORT of a running store.")

    @Option(help: "The store, HOST:PORT.") var store = "127.0.0.1:7701"
    @Option(name: .customLong("auth-secret"), help: "The store's shared secret, if any.") var authSecret: String?

    func run() async throws {
        let parts = store.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--store must be HOST:PORT") }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let configuration = StoreClient.Configuration(host: String(parts[0]), port: port, secret: authSecret, connections: 1,
                                                      requestTimeout: .seconds(60))
        try await StoreClient.withClient(configuration: configuration, clientName: "epilogue-bench", logger: logger) { client in
            guard await client.waitUntilConnected(timeout: .seconds(5)) else { throw ValidationError("cannot reach \(store): \(client.lastError)") }
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let counts = Counts()
            let started = ContinuousClock.now
            let stream = StoreStream(loop: loop, idleTimeout: .seconds(60))
            try await loop.flatSubmit {
                client.exportStream(RecordFilter(), on: loop, stream: stream) { record in
                    counts.add(record.content.reading.utf8.count)
                }
            }.get()
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            let (records, readingBytes) = counts.value
            print(String(format: "binary export: %d records in %.2f s, %.0f records/s (%.1f MB of readings)",
                         records, seconds, Double(records) / max(seconds, 1e-9), Double(readingBytes) / 1e6))
        }
    }

    /// Touched only on the stream's loop; read once the stream has ended.
    private final class Counts: @unchecked Sendable {
        private var records = 0
        private var bytes = 0
        func add(_ readingBytes: Int) { records += 1; bytes += readingBytes }
        var value: (Int, Int) { (records, bytes) }
    }
}
