import EpilogueProtocol
import Logging
import NIOCore

/// A one-shot health check: handshake with the store and PING it. Used by `epilogue-store --check`
/// (a container healthcheck) and by scripts.
public enum StoreProbe {
    public static func ping(host: String, port: Int, secret: String?, timeout: Duration = .seconds(3)) async -> Result<Void, StoreClientError> {
        var logger = Logger(label: "epilogue.probe")
        logger.logLevel = .critical
        let configuration = StoreClient.Configuration(host: host, port: port, secret: secret, connections: 1,
                                                      requestTimeout: .seconds(2), connectTimeout: .seconds(2))
        do {
            return .success(try await StoreClient.withClient(configuration: configuration, clientName: "epilogue-probe", logger: logger) { client in
                guard await client.waitUntilConnected(timeout: timeout) else { throw StoreClientError.unavailable(client.lastError) }
                try await client.ping()
            })
        } catch {
            return .failure(error as? StoreClientError ?? .unavailable("\(error)"))
        }
    }
}
