import ArgumentParser
import EpilogueServerKit
import Logging
import NIOCore
import ServiceLifecycle

/// What the two services' common options differ in.
public protocol ServiceDefaults {
    /// `EPILOGUE_STORE` or `EPILOGUE_GATEWAY`: options read `<prefix>_HOST`, `<prefix>_PORT`, …
    static var environmentPrefix: String { get }
    static var port: Int { get }
    static var metricsPort: Int { get }
    /// Help of `--idle-timeout`, for a service whose timeout covers more than silence.
    static var idleTimeoutHelp: String { get }
}

extension ServiceDefaults {
    public static var idleTimeoutHelp: String { "Seconds a silent connection is kept." }
}

/// The options every service takes, under the same names, environment variables and checks:
/// `--host`, `--port`, `--max-connections`, `--idle-timeout`, `--metrics-port`, `--port-file`,
/// `--log-level`. Every option can also be set by the environment variable named in its help.
public struct ServiceOptions<Defaults: ServiceDefaults>: ParsableArguments {
    private static func environment(_ suffix: String) -> String? {
        EpilogueLogging.environment("\(Defaults.environmentPrefix)_\(suffix)")
    }

    @Option(help: "Address to listen on. Env: \(Defaults.environmentPrefix)_HOST.")
    public var host: String = Self.environment("HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one). Env: \(Defaults.environmentPrefix)_PORT.")
    public var port: Int = Self.environment("PORT").flatMap { Int($0) } ?? Defaults.port

    @Option(name: .customLong("max-connections"), help: "Connections served at once. Env: \(Defaults.environmentPrefix)_MAX_CONNECTIONS.")
    public var maxConnections: Int = Self.environment("MAX_CONNECTIONS").flatMap { Int($0) } ?? 1024

    @Option(name: .customLong("idle-timeout"), help: "\(Defaults.idleTimeoutHelp) Env: \(Defaults.environmentPrefix)_IDLE_TIMEOUT.")
    public var idleTimeout: Int = Self.environment("IDLE_TIMEOUT").flatMap { Int($0) } ?? 300

    @Option(name: .customLong("metrics-port"), help: "Port of the Prometheus /metrics endpoint (0 = off). Env: EPILOGUE_METRICS_PORT.")
    public var metricsPort: Int = EpilogueLogging.environment("EPILOGUE_METRICS_PORT").flatMap { Int($0) } ?? Defaults.metricsPort

    @Option(name: .customLong("port-file"),
            help: "Once listening, write `port=N` (and `metrics_port=N`) lines to this file: how a supervisor or test learns the port --port 0 picked. Env: \(Defaults.environmentPrefix)_PORT_FILE.")
    public var portFile: String = Self.environment("PORT_FILE") ?? ""

    @Option(name: .customLong("log-level"), help: "trace|debug|info|notice|warning|error|critical. Env: EPILOGUE_LOG_LEVEL.")
    public var logLevel: String = EpilogueLogging.environment("EPILOGUE_LOG_LEVEL") ?? "info"

    public init() {}

    public func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of \(Logger.Level.names)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard maxConnections > 0, idleTimeout > 0 else { throw ValidationError("--max-connections and --idle-timeout must be positive") }
    }

    /// Logging at `--log-level`, the `--port-file`, and the metrics endpoint unless
    /// `--metrics-port` is 0: what a service process sets up before its server.
    public func startProcess(label: String) -> ServiceProcess {
        EpilogueLogging.bootstrap(level: Logger.Level(rawValue: logLevel)!)
        let logger = Logger(label: label)
        let ports = portFile.isEmpty ? nil : PortFile(path: portFile)
        let metrics = metricsPort == 0 ? nil
            : MetricsEndpoint(host: host, port: metricsPort, registry: MetricsEndpoint.bootstrap(), logger: logger,
                              onListening: { address in ports?.record("metrics_port", port: address.port ?? 0) })
        return ServiceProcess(logger: logger, portFile: ports, metrics: metrics)
    }
}

/// A service process's logger, port file and metrics endpoint (see `ServiceOptions.startProcess`).
public struct ServiceProcess: Sendable {
    public let logger: Logger
    public let portFile: PortFile?
    /// Nil when `--metrics-port` is 0.
    public let metrics: MetricsEndpoint?

    /// For the server's `onListening`: records the port it bound in the port file.
    public func recordListening(_ address: SocketAddress) {
        portFile?.record("port", port: address.port ?? 0)
    }

    /// Runs `services` and the metrics endpoint until SIGTERM or SIGINT; they start in order and
    /// stop in reverse. A failure is logged as `failure` and ends the process with status 1.
    public func run(_ services: [any Service], failure: Logger.Message) async throws {
        let all = services + (metrics.map { [$0] } ?? [])
        let group = ServiceGroup(configuration: .init(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical(failure, metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
