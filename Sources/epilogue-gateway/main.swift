import ArgumentParser
import EpilogueGateway
import EpilogueStoreClient
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epilogue-gateway",
        abstract: "Line-based text interface (nc, telnet, scripts) in front of an epilogue-store.",
        discussion: "Every option can also be set by the environment variable named in its help.")

    @Option(help: "Address to listen on. Env: EPILOGUE_GATEWAY_HOST.")
    var host: String = EpilogueLogging.environment("EPILOGUE_GATEWAY_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one). Env: EPILOGUE_GATEWAY_PORT.")
    var port: Int = EpilogueLogging.environment("EPILOGUE_GATEWAY_PORT").flatMap { Int($0) } ?? 7700

    @Option(help: "The store, as HOST:PORT. Env: EPILOGUE_STORE.")
    var store: String = EpilogueLogging.environment("EPILOGUE_STORE") ?? "127.0.0.1:7701"

    @Option(name: .customLong("store-secret"), help: "Shared secret of the store (its --auth-secret). Env: EPILOGUE_SECRET.")
    var storeSecret: String?

    @Option(name: .customLong("write-token"), help: "When set, PUT and DEL need AUTH <token> first. Env: EPILOGUE_WRITE_TOKEN.")
    var writeToken: String?

    @Option(name: .customLong("store-connections"), help: "Persistent connections to the store. Env: EPILOGUE_STORE_CONNECTIONS.")
    var storeConnections: Int = EpilogueLogging.environment("EPILOGUE_STORE_CONNECTIONS").flatMap { Int($0) } ?? 4

    @Option(name: .customLong("request-timeout-ms"), help: "Time the store has to answer one request. Env: EPILOGUE_REQUEST_TIMEOUT_MS.")
    var requestTimeoutMs: Int = EpilogueLogging.environment("EPILOGUE_REQUEST_TIMEOUT_MS").flatMap { Int($0) } ?? 5000

    @Option(name: .customLong("max-line"), help: "Longest request line in bytes. Env: EPILOGUE_MAX_LINE.")
    var maxLine: Int = EpilogueLogging.environment("EPILOGUE_MAX_LINE").flatMap { Int($0) } ?? 64 * 1024

    @Option(name: .customLong("max-connections"), help: "Clients served at once. Env: EPILOGUE_GATEWAY_MAX_CONNECTIONS.")
    var maxConnections: Int = EpilogueLogging.environment("EPILOGUE_GATEWAY_MAX_CONNECTIONS").flatMap { Int($0) } ?? 1024

    @Option(name: .customLong("idle-timeout"), help: "Seconds a silent client is kept; also the time to finish a started line. Env: EPILOGUE_GATEWAY_IDLE_TIMEOUT.")
    var idleTimeout: Int = EpilogueLogging.environment("EPILOGUE_GATEWAY_IDLE_TIMEOUT").flatMap { Int($0) } ?? 300

    @Option(name: .customLong("metrics-port"), help: "Port of the Prometheus /metrics endpoint (0 = off). Env: EPILOGUE_METRICS_PORT.")
    var metricsPort: Int = EpilogueLogging.environment("EPILOGUE_METRICS_PORT").flatMap { Int($0) } ?? 9700

    @Flag(help: "Health check: send PING to the gateway at --host/--port; exit 0 on OK.")
    var check = false

    @Option(name: .customLong("port-file"),
            help: "Once listening, write `port=N` (and `metrics_port=N`) lines to this file: how a supervisor or test learns the port --port 0 picked. Env: EPILOGUE_GATEWAY_PORT_FILE.")
    var portFile: String = EpilogueLogging.environment("EPILOGUE_GATEWAY_PORT_FILE") ?? ""

    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical. Env: EPILOGUE_LOG_LEVEL.")
    var logLevel: String = EpilogueLogging.environment("EPILOGUE_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard HostAndPort(store) != nil else { throw ValidationError("--store must be HOST:PORT") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of \(Logger.Level.names)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard storeConnections > 0, requestTimeoutMs > 0, maxLine > 0, maxConnections > 0, idleTimeout > 0 else {
            throw ValidationError("counts and timeouts must be positive")
        }
    }

    func run() async throws {
        if check {
            let answer = await TextProbe.send("PING", host: host, port: port)
            print(answer.firstLine)
            guard answer.firstLine.hasPrefix("OK") else { throw ExitCode(1) }
            return
        }
        EpilogueLogging.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: "epilogue.gateway")
        let ports = portFile.isEmpty ? nil : PortFile(path: portFile)
        var services: [any Service] = []
        if metricsPort != 0 {
            services.append(MetricsEndpoint(host: host, port: metricsPort, registry: MetricsEndpoint.bootstrap(), logger: logger,
                                            onListening: { address in ports?.record("metrics_port", port: address.port ?? 0) }))
        }
        let target = HostAndPort(store)!
        let pool = StorePool(
            configuration: .init(host: target.host, port: target.port,
                                 secret: storeSecret ?? EpilogueLogging.environment("EPILOGUE_SECRET"),
                                 connections: storeConnections, requestTimeout: .milliseconds(Int64(requestTimeoutMs))),
            logger: logger)
        let server = GatewayServer(
            configuration: .init(host: host, port: port, maximumLineLength: maxLine, maximumConnections: maxConnections,
                                 idleTimeout: .seconds(Int64(idleTimeout)), lineTimeout: GatewayServer.Configuration.lineTimeout(idleTimeout: .seconds(Int64(idleTimeout))),
                                 writeToken: writeToken ?? EpilogueLogging.environment("EPILOGUE_WRITE_TOKEN")),
            pool: pool, logger: logger, onListening: { address in ports?.record("port", port: address.port ?? 0) })
        services.insert(server, at: 0)
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("gateway failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
