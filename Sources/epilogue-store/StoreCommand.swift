import ArgumentParser
import EpilogueCommandLine
import EpilogueServerKit
import EpilogueStorage
import EpilogueStore
import EpilogueStoreClient
import Foundation
import Logging
import ServiceLifecycle

/// The store's side of the options both services take.
enum StoreDefaults: ServiceDefaults {
    static let environmentPrefix = "EPILOGUE_STORE"
    static let port = 7701
    static let metricsPort = 9701
}

@main
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epilogue-store",
        abstract: "Durable, compressed, searchable store of interpretation records (wire protocol v1).",
        discussion: "Every option can also be set by the environment variable named in its help.",
        subcommands: [ImportCommand.self, BackupCommand.self])

    @OptionGroup var service: ServiceOptions<StoreDefaults>

    @Option(name: .customLong("data-dir"), help: "Directory of the record log. Env: EPILOGUE_DATA_DIR.")
    var dataDirectory: String = EpilogueLogging.environment("EPILOGUE_DATA_DIR") ?? "./data"

    @Option(help: "When writes reach the disk: always (fsync before each ack, group commit), batch (fsync every 100 ms), never. Env: EPILOGUE_FSYNC.")
    var fsync: String = EpilogueLogging.environment("EPILOGUE_FSYNC") ?? "always"

    @Option(name: .customLong("auth-secret"), help: "Shared secret clients must prove they know. Env: EPILOGUE_SECRET.")
    var authSecret: String?

    @Option(name: .customLong("frame-timeout"), help: "Seconds a started frame has to arrive whole. Env: EPILOGUE_STORE_FRAME_TIMEOUT.")
    var frameTimeout: Int = EpilogueLogging.environment("EPILOGUE_STORE_FRAME_TIMEOUT").flatMap { Int($0) } ?? 30

    @Flag(name: .customLong("no-dataset"), help: "Start an empty data directory empty instead of loading the bundled dataset.")
    var noDataset = false

    @Flag(name: .customLong("no-dictionary-training"),
          help: "Keep compressing with the built-in dictionary; never train one on the stored records. Env: EPILOGUE_NO_DICTIONARY_TRAINING=1.")
    var noDictionaryTraining = false
    var dictionaryTrainingOff: Bool {
        noDictionaryTraining || ["1", "true"].contains(EpilogueLogging.environment("EPILOGUE_NO_DICTIONARY_TRAINING") ?? "")
    }

    @Flag(help: "Health check: handshake with the store at --host/--port and PING it; exit 0 if it answers.")
    var check = false

    func validate() throws {
        guard FsyncPolicy(rawValue: fsync) != nil else { throw ValidationError("--fsync must be always, batch or never") }
        guard frameTimeout > 0 else { throw ValidationError("--frame-timeout must be positive") }
    }

    func run() async throws {
        let secret = authSecret ?? EpilogueLogging.environment("EPILOGUE_SECRET")
        if check {
            switch await StoreProbe.ping(host: service.host, port: service.port, secret: secret) {
            case .success:
                print("OK store at \(service.host):\(service.port) answered PING")
                return
            case .failure(let error):
                print("FAIL \(error)")
                throw ExitCode(1)
            }
        }
        let process = service.startProcess(label: "epilogue.store")
        let logger = process.logger
        let store: RecordStore
        do {
            store = try await RecordStore(
                configuration: .init(dataDirectory: dataDirectory, fsync: FsyncPolicy(rawValue: fsync)!,
                                     loadBundledDataset: !noDataset,
                                     dictionaryTraining: dictionaryTrainingOff ? nil : DictionaryPolicy()),
                logger: logger)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["data_dir": "\(dataDirectory)", "error": "\(error)"])
            FileHandle.standardError.write(Data("epilogue-store: cannot use data directory '\(dataDirectory)': \(error)\n".utf8))
            throw ExitCode(2)
        }
        let figures = store.figures()
        logger.info("store opened", metadata: [
            "data_dir": "\(dataDirectory)", "records": "\(figures.records)", "fsync": "\(fsync)",
            "recovered_entries": "\(store.recovery.entriesReplayed)", "discarded_bytes": "\(store.recovery.discardedBytes)",
        ])
        var configuration = StoreServer.Configuration(host: service.host, port: service.port, secret: secret,
                                                      maximumConnections: service.maxConnections,
                                                      idleTimeout: .seconds(Int64(service.idleTimeout)))
        configuration.frameTimeout = .seconds(Int64(frameTimeout))
        let server = StoreServer(configuration: configuration, store: store, logger: logger,
                                 onListening: process.recordListening)
        // Services stop in reverse order: the server drains its connections (answering their
        // writes) before the store closes; the store's run() closes it, on failure too.
        try await process.run([store, server], failure: "store failed")
        logger.info("store shut down cleanly")
    }
}
