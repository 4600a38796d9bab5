import EpilogueProtocol
import Logging
import NIOCore

/// A one-shot health check: handshake with the store and PING it. Used by `epilogue-store --check`
/// (a container healthcheck) and by scripts.
public enum StoreProbe {
    public static func ping(host: String, port: Int, secret: String?, timeout: Duration = .seconds(3)) async -> Result<Void, StoreClientError> {
        var logger = Logger(label: "epilogue.probe")
        logger.logLevel = .critical
        let pool = StorePool(configuration: .init(host: host, port: port, secret: secret, connections: 1,
                                                  requestTimeout: .seconds(2), connectTimeout: .seconds(2)),
                             logger: logger)
        pool.start()
        defer { pool.shutdown() }
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !pool.isConnected {
            guard clock.now < deadline else { return .failure(.unavailable(pool.lastError)) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        do {
            let answer = try await pool.request(.ping(ByteBuffer(string: "check")))
            guard case .pong = answer.first else { return .failure(.protocolError("unexpected answer to PING: \(answer)")) }
            return .success(())
        } catch let error as StoreClientError {
            return .failure(error)
        } catch {
            return .failure(.unavailable("\(error)"))
        }
    }
}
