import ArgumentParser
import EpilogueCommandLine
import EpilogueProtocol
import EpilogueServerKit
import EpilogueStorage
import EpilogueStoreClient
import Foundation
import Logging

/// How the client subcommands reach a running store.
struct StoreAddressOptions: ParsableArguments {
    @Option(help: "The store to talk to, HOST:PORT.")
    var store: String = "127.0.0.1:7701"

    @Option(name: .customLong("auth-secret"), help: "The store's shared secret, if it has one. Env: EPILOGUE_SECRET.")
    var authSecret: String?

    @Option(name: .customLong("timeout"), help: "Seconds the store has to answer one request.")
    var timeout: Int = 120

    /// Runs `body` with a one-connection client, connected (or a clear error).
    func withClient<T>(_ body: (StoreClient) async throws -> T) async throws -> T {
        guard let address = HostAndPort(store) else { throw ValidationError("--store must be HOST:PORT, not '\(store)'") }
        var logger = Logger(label: "epilogue.store.client")
        logger.logLevel = .critical
        let configuration = StoreClient.Configuration(host: address.host, port: address.port,
                                                      secret: authSecret ?? EpilogueLogging.environment("EPILOGUE_SECRET"), connections: 1,
                                                      requestTimeout: .seconds(Int64(timeout)))
        return try await StoreClient.withClient(configuration: configuration, clientName: "epilogue-store", logger: logger) { client in
            guard await client.waitUntilConnected(timeout: .seconds(3)) else {
                throw CleanExit.message("epilogue-store: cannot reach the store at \(store): \(client.lastError)")
            }
            return try await body(client)
        }
    }
}

/// `epilogue-store import FILE --store HOST:PORT`: JSON lines in, in IMPORT batches.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a JSON-lines file (one record object per line, as EXPORT writes) into a running store.",
        discussion: """
            Each batch (--batch lines) is applied all or nothing and acknowledged once durable (one fsync). \
            A bad line is reported with its number and left out; the others are imported. \
            Exit status: 0 when every line was imported or skipped, 1 when some lines were bad, 2 when the import stopped.
            """)

    @Argument(help: "The JSON-lines file.")
    var file: String

    @OptionGroup var address: StoreAddressOptions

    @Option(help: "What to do with an id that already exists: replace or skip.")
    var existing: String = "replace"

    @Flag(name: .customLong("keep-versions"),
          help: "Write each line's version and updatedAt (restoring an EXPORT) instead of the next version and now; a version not above the id's last is a bad line.")
    var keepVersions = false

    @Option(help: "Lines per IMPORT batch.")
    var batch: Int = 1_000

    func validate() throws {
        guard ["replace", "skip"].contains(existing) else { throw ValidationError("--existing must be replace or skip") }
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be 1…10000") }
    }

    func run() async throws {
        let options = JSONLinesImport.Options(existing: existing == "skip" ? .skip : .replace, keepVersions: keepVersions, batchRecords: batch)
        let started = Date()
        let report = try await address.withClient { client in
            let lane = client.lane(preferring: nil)
            do {
                return try await JSONLinesImport.run(path: file, options: options, send: { mode, items throws(StoreClientError) in
                    try await client.import(mode, items, lane: lane)
                }, progress: { bad in FileHandle.standardError.write(Data("epilogue-store import: \(file): \(bad)\n".utf8)) })
            } catch {
                FileHandle.standardError.write(Data("epilogue-store import: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("imported \(report.counts.summary) from \(report.lines) lines in \(report.batches) batches "
              + "(\(report.bad.count) bad) in \(String(format: "%.2f", seconds)) s, "
              + "\(Int(Double(report.counts.written) / max(seconds, 0.000_001))) records/s")
        if !report.bad.isEmpty { throw ExitCode(1) }
    }
}

/// `epilogue-store backup --store HOST:PORT --to DIR`: an online, consistent copy of a running store.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy a running store's data files into a new directory, consistently, while it serves.",
        discussion: """
            The copy holds every write the store had applied when it received the request (every write acknowledged \
            before it), none after; writers wait only a moment. Log entries are checked as they are written; the \
            directory gets backup.manifest (lengths, CRC-32s) last. Start a store with --data-dir DIR to restore.
            """)

    @OptionGroup var address: StoreAddressOptions

    @Option(help: "The directory to create (must not exist or be empty).")
    var to: String

    func run() async throws {
        let writer: BackupWriter
        do { writer = try BackupWriter(directory: to) } catch {
            FileHandle.standardError.write(Data("epilogue-store backup: \(error)\n".utf8))
            throw ExitCode(2)
        }
        var address = address
        if address.timeout == 120 { address.timeout = 3_600 }
        let started = Date()
        let box = LockedBackupWriter(writer)
        try await address.withClient { client in
            do {
                let files = try await client.backup { file, offset, data in box.receive(file: file, offset: offset, bytes: Array(buffer: data)) }
                try box.finish(files: files)
            } catch {
                FileHandle.standardError.write(Data("epilogue-store backup: failed, \(to) is incomplete (it keeps \(Backup.incompleteName)): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        let sizes = ["records.log", "index.snapshot"].compactMap { name in writer.files.first { $0.name == name }.map { "\(name) \($0.length) bytes" } }
        print("backup of \(address.store) in \(to): \(writer.bytes) bytes (\(writer.files.count) files, \(sizes.joined(separator: ", "))) "
              + "in \(String(format: "%.2f", seconds)) s, \(String(format: "%.1f", Double(writer.bytes) / 1_048_576 / max(seconds, 0.000_001))) MiB/s")
    }
}
