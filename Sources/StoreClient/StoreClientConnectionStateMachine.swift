import EpilogueProtocol
import EpilogueServerKit

/// The client side of one store connection, as a value type: it consumes events (connected, a
/// frame, a request to send, a timeout, the connection lost) and returns what to do, so every path
/// is tested without a socket. `StoreClientHandler` executes the actions.
///
///     idle --connected--> awaitingChallenge --CHALLENGE--> awaitingReady --READY--> ready --requests...
///       any other handshake frame, undecodable frame, timeout, error, connection lost --> closed
///
/// Requests are pipelined: each gets the next request id (1 and up; 0 is the handshake's) and
/// waits in `pending` until the last frame of its answer (one without STREAM_CONTINUES) arrives.
/// Answers may come in any order and are matched by id; an answer to an id no longer pending (its
/// request timed out) is dropped rather than given to another. `Request` is what the handler keeps
/// with a request (its promise, its timer): the machine hands it back, never looks into it.
struct StoreClientConnectionStateMachine<Request> {
    enum Action {
        /// Nothing to do.
        case none
        /// Write a handshake frame (request id 0) and flush it now: nothing else is queued yet.
        case sendHandshake(ClientMessage)
        /// Write a request; flushing may wait for the end of the loop tick.
        case sendRequest(ClientMessage, requestID: UInt32, traceID: UInt64?)
        /// The handshake is done; the connection takes requests.
        case handshakeCompleted(Ready)
        /// The store pushed INVALIDATE (request id 0): these records changed; none means all.
        case invalidate([String])
        /// A frame of a long stream, handed on as it arrives instead of being kept.
        case forward(ServerMessage, to: Request)
        /// The last frame of an answer arrived: these are all of its frames.
        case succeed(Request, [ServerMessage])
        /// This request cannot be sent (the connection is not ready); the connection is unchanged.
        case fail(Request, StoreClientError)
        /// The connection is over: fail the handshake if it was still under way, fail every
        /// pending request with its error, and close.
        case close(Closing)
    }

    struct Closing {
        var error: StoreClientError
        /// The handshake had not completed: whoever waits for it fails with `error`.
        var handshakeFailed: Bool
        var requests: [(Request, StoreClientError)]
    }

    private struct Pending {
        var request: Request
        var received: [ServerMessage] = []
        /// Frames but the last are forwarded, not kept (BACKUP's long stream).
        var forwardsStream: Bool
    }

    private enum State {
        case idle
        case awaitingChallenge
        case awaitingReady
        case ready(Ready)
        case closed
    }

    private var state: State = .idle
    private var pending: [UInt32: Pending] = [:]
    /// The id the next request gets (see `send`).
    private(set) var nextRequestID: UInt32 = 1
    private let secret: String?
    private let clientName: String
    private let dictionaries: [UInt32]

    /// `dictionaries`: the preset dictionary ids HELLO announces (the client can inflate bodies
    /// made with them, PROTOCOL.md §2.4).
    init(secret: String?, clientName: String, dictionaries: [UInt32]) {
        self.secret = secret
        self.clientName = clientName
        self.dictionaries = dictionaries
    }

    /// Requests waiting for (the rest of) their answer.
    var inFlight: Int { pending.count }

    var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// What READY said, once the handshake is done.
    var ready: Ready? {
        if case .ready(let ready) = state { return ready }
        return nil
    }

    mutating func connected() -> Action {
        guard case .idle = state else { return .none }
        state = .awaitingChallenge
        return .sendHandshake(.hello(Hello(versions: [WireProtocol.version], clientName: clientName, dictionaries: dictionaries)))
    }

    mutating func frameReceived(_ frame: Frame) -> Action {
        if case .closed = state { return .none }
        let message: ServerMessage
        do {
            message = try ServerMessage(frame: frame)
        } catch {
            return close(.protocolError("\(error)"))
        }
        switch state {
        case .idle:
            return close(.protocolError("the store sent \(message.type) before the connection was up"))
        case .awaitingChallenge:
            guard case .challenge(let challenge) = message else { return handshakeRefused(message) }
            let proof = (challenge.authRequired ? secret : nil).map { SharedSecretAuth.proof(secret: $0, nonce: challenge.nonce) } ?? []
            state = .awaitingReady
            return .sendHandshake(.authenticate(proof: proof))
        case .awaitingReady:
            guard case .ready(let ready) = message else { return handshakeRefused(message) }
            state = .ready(ready)
            return .handshakeCompleted(ready)
        case .ready:
            let id = frame.requestID
            // The one unsolicited frame (PROTOCOL.md, "Tracking"); it answers no request.
            if id == 0, case .invalidate(let ids) = message { return .invalidate(ids) }
            guard var entry = pending[id] else { return .none }  // timed out earlier: drop
            let continues = frame.flags.contains(.streamContinues)
            if continues && entry.forwardsStream { return .forward(message, to: entry.request) }
            entry.received.append(message)
            if continues {
                pending[id] = entry
                return .none
            }
            pending[id] = nil
            return .succeed(entry.request, entry.received)
        case .closed:
            return .none
        }
    }

    private mutating func handshakeRefused(_ message: ServerMessage) -> Action {
        let why: String
        switch message {
        case .error(let code, let text):
            why = "store refused the handshake: \(code.name): \(text)"
                + (code == .unauthorized ? " (the gateway's --store-secret must equal the store's --auth-secret)" : "")
        case .versionUnsupported(let versions, let text):
            why = "store refused the handshake: VERSION_UNSUPPORTED: \(text) (the store speaks \(versions))"
        default:
            why = "unexpected \(message.type) during handshake"
        }
        return close(.unavailable(why))
    }

    /// Sends a request as `nextRequestID`, which the handler may read first to arm its timer.
    /// `forwardsStream`: hand each frame but the last on as it arrives (`Action.forward`).
    mutating func send(_ message: ClientMessage, traceID: UInt64? = nil, request: Request, forwardsStream: Bool = false) -> Action {
        guard case .ready = state else { return .fail(request, .unavailable("connection is not ready")) }
        let id = nextRequestID
        nextRequestID = nextRequestID == UInt32.max ? 1 : nextRequestID + 1
        pending[id] = Pending(request: request, forwardsStream: forwardsStream)
        return .sendRequest(message, requestID: id, traceID: traceID)
    }

    /// The request sent as `requestID` was not answered in time. A silent connection is most
    /// likely dead (a cut link never sends a RST): it is closed so the pool reconnects, and the
    /// other requests fail at once rather than time out one by one.
    mutating func requestTimedOut(requestID: UInt32, milliseconds: Int64) -> Action {
        guard case .ready = state, let entry = pending.removeValue(forKey: requestID) else { return .none }
        return close(.unavailable("store stopped answering on this connection"),
                     first: (entry.request, .timeout(milliseconds: milliseconds)))
    }

    mutating func errorCaught(_ error: any Error) -> Action {
        close(.unavailable("\(error)"))
    }

    mutating func connectionClosed() -> Action {
        close(.unavailable("connection to the store closed"))
    }

    private mutating func close(_ error: StoreClientError, first: (Request, StoreClientError)? = nil) -> Action {
        let handshakeFailed: Bool
        switch state {
        case .closed: return .none
        case .idle, .awaitingChallenge, .awaitingReady: handshakeFailed = true
        case .ready: handshakeFailed = false
        }
        state = .closed
        var requests = first.map { [$0] } ?? []
        requests += pending.sorted { $0.key < $1.key }.map { ($0.value.request, error) }
        pending.removeAll()
        return .close(Closing(error: error, handshakeFailed: handshakeFailed, requests: requests))
    }
}
