import ArgumentParser
import EpilogueServerKit
import EpilogueStore
import EpilogueStoreClient
import Foundation
import Logging
import ServiceLifecycle

@main
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epilogue-store",
        abstract: "Durable, compressed, searchable store of interpretation records (wire protocol v1).",
        discussion: "Every option can also be set by the environment variable named in its help.",
        subcommands: [ImportCommand.self, BackupCommand.self])

    @Option(help: "Address to listen on. Env: EPILOGUE_STORE_HOST.")
    var host: String = EpilogueLogging.environment("EPILOGUE_STORE_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one). Env: EPILOGUE_STORE_PORT.")
    var port: Int = EpilogueLogging.environment("EPILOGUE_STORE_PORT").flatMap { Int($0) } ?? 7701

    @Option(name: .customLong("data-dir"), help: "Directory of the record log. Env: EPILOGUE_DATA_DIR.")
    var dataDirectory: String = EpilogueLogging.environment("EPILOGUE_DATA_DIR") ?? "./data"

    @Option(help: "When writes reach the disk: always (fsync before each ack, group commit), batch (fsync every 100 ms), never. Env: EPILOGUE_FSYNC.")
    var fsync: String = EpilogueLogging.environment("EPILOGUE_FSYNC") ?? "always"

    @Option(name: .customLong("auth-secret"), help: "Shared secret clients must prove they know. Env: EPILOGUE_SECRET.")
    var authSecret: String?

    @Option(name: .customLong("max-connections"), help: "Connections served at once. Env: EPILOGUE_STORE_MAX_CONNECTIONS.")
    var maxConnections: Int = EpilogueLogging.environment("EPILOGUE_STORE_MAX_CONNECTIONS").flatMap { Int($0) } ?? 1024

    @Option(name: .customLong("idle-timeout"), help: "Seconds a silent connection is kept. Env: EPILOGUE_STORE_IDLE_TIMEOUT.")
    var idleTimeout: Int = EpilogueLogging.environment("EPILOGUE_STORE_IDLE_TIMEOUT").flatMap { Int($0) } ?? 300

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

    @Option(name: .customLong("metrics-port"), help: "Port of the Prometheus /metrics endpoint (0 = off). Env: EPILOGUE_METRICS_PORT.")
    var metricsPort: Int = EpilogueLogging.environment("EPILOGUE_METRICS_PORT").flatMap { Int($0) } ?? 9701

    @Flag(help: "Health check: handshake with the store at --host/--port and PING it; exit 0 if it answers.")
    var check = false

    @Option(name: .customLong("port-file"),
            help: "Once listening, write `port=N` (and `metrics_port=N`) lines to this file: how a supervisor or test learns the port --port 0 picked. Env: EPILOGUE_STORE_PORT_FILE.")
    var portFile: String = EpilogueLogging.environment("EPILOGUE_STORE_PORT_FILE") ?? ""

    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical. Env: EPILOGUE_LOG_LEVEL.")
    var logLevel: String = EpilogueLogging.environment("EPILOGUE_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard FsyncPolicy(rawValue: fsync) != nil else { throw ValidationError("--fsync must be always, batch or never") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of \(Logger.Level.names)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard maxConnections > 0, idleTimeout > 0, frameTimeout > 0 else {
            throw ValidationError("--max-connections, --idle-timeout and --frame-timeout must be positive")
        }
    }

    func run() async throws {
        let secret = authSecret ?? EpilogueLogging.environment("EPILOGUE_SECRET")
        if check {
            switch await StoreProbe.ping(host: host, port: port, secret: secret) {
            case .success:
                print("OK store at \(host):\(port) answered PING")
                return
            case .failure(let error):
                print("FAIL \(error)")
                throw ExitCode(1)
            }
        }
        EpilogueLogging.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: "epilogue.store")
        let ports = portFile.isEmpty ? nil : PortFile(path: portFile)
        var services: [any Service] = []
        if metricsPort != 0 {
            services.append(MetricsEndpoint(host: host, port: metricsPort, registry: MetricsEndpoint.bootstrap(), logger: logger,
                                            onListening: { address in ports?.record("metrics_port", port: address.port ?? 0) }))
        }
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
        var configuration = StoreServer.Configuration(host: host, port: port, secret: secret, maximumConnections: maxConnections,
                                                      idleTimeout: .seconds(Int64(idleTimeout)))
        configuration.frameTimeout = .seconds(Int64(frameTimeout))
        let server = StoreServer(configuration: configuration, store: store, logger: logger,
                                 onListening: { address in ports?.record("port", port: address.port ?? 0) })
        services.insert(server, at: 0)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            store.close()
            logger.critical("store failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        store.close()
        logger.info("store shut down cleanly")
    }
}
