import ArgumentParser
import EpilogueCommandLine
import EpilogueGateway
import EpilogueStoreClient
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// The gateway's side of the options both services take.
enum GatewayDefaults: ServiceDefaults {
    static let environmentPrefix = "EPILOGUE_GATEWAY"
    static let port = 7700
    static let metricsPort = 9700
    static let idleTimeoutHelp = "Seconds a silent client is kept; also the time to finish a started line."
}

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epilogue-gateway",
        abstract: "Line-based text interface (nc, telnet, scripts) in front of an epilogue-store.",
        discussion: "Every option can also be set by the environment variable named in its help.")

    @OptionGroup var service: ServiceOptions<GatewayDefaults>

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

    @Option(name: .customLong("cache-mb"),
            help: "MiB of records kept for GET, kept coherent by the store's invalidation pushes (default 0 = no cache). Env: EPILOGUE_CACHE_MB.")
    // Opt-in: it pays only when the ids read fit in it (docs/PERFORMANCE.md headline: at 1M
    // records read at random a caching gateway served fewer GETs than a plain one).
    var cacheMb: Int = EpilogueLogging.environment("EPILOGUE_CACHE_MB").flatMap { Int($0) } ?? 0

    @Flag(help: "Health check: send PING to the gateway at --host/--port; exit 0 on OK.")
    var check = false

    func validate() throws {
        guard HostAndPort(store) != nil else { throw ValidationError("--store must be HOST:PORT") }
        guard storeConnections > 0, requestTimeoutMs > 0, maxLine > 0 else {
            throw ValidationError("--store-connections, --request-timeout-ms and --max-line must be positive")
        }
        guard cacheMb >= 0 else { throw ValidationError("--cache-mb must be 0 or more") }
    }

    func run() async throws {
        if check {
            let answer = await TextProbe.send("PING", host: service.host, port: service.port)
            print(answer.firstLine)
            guard answer.firstLine.hasPrefix("OK") else { throw ExitCode(1) }
            return
        }
        let process = service.startProcess(label: "epilogue.gateway")
        let logger = process.logger
        let target = HostAndPort(store)!
        let store = StoreClient(
            configuration: .init(host: target.host, port: target.port,
                                 secret: storeSecret ?? EpilogueLogging.environment("EPILOGUE_SECRET"),
                                 connections: storeConnections, requestTimeout: .milliseconds(Int64(requestTimeoutMs)),
                                 cacheBytes: cacheMb * 1024 * 1024),
            logger: logger)
        let server = GatewayServer(
            configuration: .init(host: service.host, port: service.port, maximumLineLength: maxLine, maximumConnections: service.maxConnections,
                                 idleTimeout: .seconds(Int64(service.idleTimeout)),
                                 lineTimeout: GatewayServer.Configuration.lineTimeout(idleTimeout: .seconds(Int64(service.idleTimeout))),
                                 writeToken: writeToken ?? EpilogueLogging.environment("EPILOGUE_WRITE_TOKEN")),
            store: store, logger: logger, onListening: process.recordListening)
        // They stop in reverse order: the server drains its connections before the store client stops.
        try await process.run([store, server], failure: "gateway failed")
    }
}
