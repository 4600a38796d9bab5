import EpilogueProtocol

/// Why a store request got no answer, or the store's refusal: the one error `StoreClient` throws.
public enum StoreClientError: Error, Equatable, CustomStringConvertible {
    /// The store answered ERROR: its wire code (PROTOCOL.md §3) and message.
    case refused(code: ErrorCode, message: String)
    /// No connection to the store could be used (down, unreachable, refused the handshake).
    case unavailable(String)
    /// The store did not answer within the request timeout.
    case timeout(milliseconds: Int64)
    /// The store sent something this client cannot understand (or a body it cannot inflate).
    case protocolError(String)

    /// The wire code of a refusal; nil when the store gave no answer.
    public var code: ErrorCode? {
        if case .refused(let code, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .refused(let code, let message): return "\(code.name): \(message)"
        case .unavailable(let why): return "store unavailable: \(why)"
        case .timeout(let ms): return "store did not answer within \(ms) ms"
        case .protocolError(let why): return "store protocol error: \(why)"
        }
    }
}
