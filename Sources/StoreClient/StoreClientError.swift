/// Why the gateway could not get an answer from the store.
public enum StoreClientError: Error, Equatable, CustomStringConvertible {
    /// No connection to the store could be used (down, unreachable, refused the handshake).
    case unavailable(String)
    /// The store did not answer within the request timeout.
    case timeout(milliseconds: Int64)
    /// The store sent something this client cannot understand.
    case protocolError(String)

    public var description: String {
        switch self {
        case .unavailable(let why): return "store unavailable: \(why)"
        case .timeout(let ms): return "store did not answer within \(ms) ms"
        case .protocolError(let why): return "store protocol error: \(why)"
        }
    }
}
