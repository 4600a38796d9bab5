import EpilogueStorage
import EpilogueProtocol
import EpilogueServerKit

/// The handshake, request gating and lifecycle of one store connection, as a value type: it
/// consumes frames and returns what to do, so every path is tested without a socket.
///
///     awaitingHello --HELLO--> awaitingProof --AUTHENTICATE--> ready --requests...
///           any other frame, bad version, bad proof, undecodable frame --> closed
///
/// Draining (graceful shutdown, or the client half-closed; `ConnectionFlow`): requests already
/// served are answered, one arriving meanwhile is refused with SHUTTING_DOWN (it was not served),
/// and the connection closes once nothing is in flight. Reads wait while `maximumInFlightWrites`
/// writes wait for their fsync, while an EXPORT or BACKUP streams, or while the peer does not read.
///
/// Request ids (PROTOCOL.md §1): the handshake uses 0; requests use 1 and up, unique among the
/// connection's requests in flight. Fatal ERRORs carry the id of the frame that caused them.
public struct StoreConnectionStateMachine {
    public enum Action: Equatable {
        case send(ServerMessage, requestID: UInt32)
        case sendAndClose(ServerMessage, requestID: UInt32)
        case serve(ClientMessage, requestID: UInt32)
        /// The request arrived while draining: send the refusal, the request is not served.
        case refuse(ClientMessage, ServerMessage, requestID: UInt32)
        /// Frames after the connection was closed are dropped.
        case ignore
    }

    enum State {
        case awaitingHello
        case awaitingProof(nonce: [UInt8], dictionaries: Set<UInt32>)
        case ready(dictionaries: Set<UInt32>)
        case closed
    }

    private var state: State = .awaitingHello
    /// Ids of requests answered later (writes waiting for their fsync, SEARCHes on the search
    /// pool: `StoreRequestHandler.isAnsweredLater`) and of streams (EXPORT, BACKUP) being sent:
    /// served but not yet answered, so a request reusing one would make the two answers
    /// indistinguishable, and a draining connection waits for them.
    private var writesInFlight: Set<UInt32> = []
    private var streamsInFlight: Set<UInt32> = []
    private var flow = ConnectionFlow()
    private let maximumInFlightWrites: Int
    private let secret: String?
    private let serverName: String
    private let maximumFrameSize: UInt32
    private let makeNonce: () -> [UInt8]
    /// Dictionary ids READY announces (read at READY: training adds ids while the store runs).
    private let availableDictionaries: () -> [UInt32]

    public init(secret: String?, serverName: String = "epilogue-store", maximumFrameSize: UInt32 = WireProtocol.defaultMaximumFrameSize,
                maximumInFlightWrites: Int = 256,
                makeNonce: @escaping () -> [UInt8] = { SharedSecretAuth.makeNonce() },
                availableDictionaries: @escaping () -> [UInt32] = { [] }) {
        self.secret = secret
        self.serverName = serverName
        self.maximumFrameSize = maximumFrameSize
        self.maximumInFlightWrites = maximumInFlightWrites
        self.makeNonce = makeNonce
        self.availableDictionaries = availableDictionaries
    }

    /// Dictionaries the client can inflate; empty until the handshake is done.
    public var clientDictionaries: Set<UInt32> {
        if case .ready(let dictionaries) = state { return dictionaries }
        return []
    }

    public var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    /// Closed: by a fatal error, once drained, or because the channel went away.
    public var isClosed: Bool { flow.isClosed }

    public mutating func frameReceived(_ frame: Frame) -> Action {
        if case .closed = state { return .ignore }
        if flow.isClosed { return .ignore }
        let id = frame.requestID
        let message: ClientMessage
        do {
            message = try ClientMessage(frame: frame)
        } catch ProtocolError.unknownMessageType(let type) where isReady && type < 0x80 {
            // A request type from a newer client: refuse that request only, so the client can fall back.
            if let violation = badRequestID(id) { return violation }
            return .send(.error(code: .unknownMessage, message: "unknown message type 0x\(String(type, radix: 16))"), requestID: id)
        } catch {
            return fail(.protocolViolation, "\(error)", requestID: id)
        }
        switch (state, message) {
        case (.awaitingHello, .hello(let hello)):
            guard id == 0 else { return fail(.protocolViolation, "the handshake uses request id 0", requestID: id) }
            guard hello.versions.contains(WireProtocol.version) else {
                let offered = hello.versions.map(String.init).joined(separator: ", ")
                state = .closed
                return .sendAndClose(.versionUnsupported(serverVersions: WireProtocol.versions,
                                                         message: "server speaks protocol version \(WireProtocol.version); client offered [\(offered)]"),
                                     requestID: id)
            }
            let nonce = makeNonce()
            state = .awaitingProof(nonce: nonce, dictionaries: Set(hello.dictionaries))
            return .send(.challenge(Challenge(version: WireProtocol.version, nonce: nonce, authRequired: secret != nil,
                                              serverName: serverName)), requestID: id)
        case (.awaitingHello, _):
            return fail(.protocolViolation, "expected HELLO first", requestID: id)
        case (.awaitingProof(let nonce, let dictionaries), .authenticate(let proof)):
            guard id == 0 else { return fail(.protocolViolation, "the handshake uses request id 0", requestID: id) }
            if let secret {
                guard !proof.isEmpty else {
                    return fail(.unauthorized, "this store requires the shared secret", requestID: id)
                }
                guard SharedSecretAuth.verify(proof: proof, secret: secret, nonce: nonce) else {
                    return fail(.unauthorized, "authentication proof is wrong", requestID: id)
                }
            }
            state = .ready(dictionaries: dictionaries)
            return .send(.ready(Ready(maximumFrameSize: maximumFrameSize, dictionaries: availableDictionaries())), requestID: id)
        case (.awaitingProof, _):
            return fail(.protocolViolation, "expected AUTHENTICATE after CHALLENGE", requestID: id)
        case (.ready, .hello), (.ready, .authenticate):
            return fail(.protocolViolation, "handshake already complete", requestID: id)
        case (.ready, _):
            if let violation = badRequestID(id) { return violation }
            if flow.isDraining {
                return .refuse(message, .error(code: .shuttingDown, message: "the store is shutting down; retry once it is back"), requestID: id)
            }
            if StoreRequestHandler.isAnsweredLater(message) { writesInFlight.insert(id) }
            if StoreRequestHandler.isStream(message) { streamsInFlight.insert(id) }
            return .serve(message, requestID: id)
        case (.closed, _):
            return .ignore
        }
    }

    /// Requests after READY use ids 1 and up, each unique among the requests in flight.
    private mutating func badRequestID(_ id: UInt32) -> Action? {
        if id == 0 { return fail(.protocolViolation, "request id 0 is reserved for the handshake", requestID: id) }
        if writesInFlight.contains(id) || streamsInFlight.contains(id) { return fail(.protocolViolation, "request id \(id) is already in flight", requestID: id) }
        return nil
    }

    /// The answer to request `requestID` (a write, a SEARCH, or the last frame of an EXPORT) went out: its
    /// id may be used again. True when the connection was draining and is now done: close it.
    @discardableResult
    public mutating func answered(requestID: UInt32) -> Bool {
        writesInFlight.remove(requestID)
        streamsInFlight.remove(requestID)
        return closeIfDrained()
    }

    /// Graceful shutdown or a half-close: no new requests. True when nothing is in flight, so
    /// the connection closes now; otherwise it closes when the last answer goes out.
    public mutating func drain() -> Bool {
        _ = flow.startDraining()
        return closeIfDrained()
    }

    private mutating func closeIfDrained() -> Bool {
        guard flow.isDraining, writesInFlight.isEmpty, streamsInFlight.isEmpty else { return false }
        return flow.close()
    }

    /// The channel went inactive: nothing more is read or answered.
    public mutating func channelClosed() {
        _ = flow.close()
    }

    /// The channel asks to read: true when it may go ahead now, otherwise the read is held.
    public mutating func readRequested(writable: Bool) -> Bool {
        flow.readRequested(blocked: readsBlocked(writable: writable))
    }

    /// Something that blocked reads may have cleared: true when the held read should be issued.
    public mutating func releasesRead(writable: Bool) -> Bool {
        flow.releasesRead(blocked: readsBlocked(writable: writable))
    }

    /// While draining, reads go on until the writes in flight are answered, so requests that
    /// arrive meanwhile get SHUTTING_DOWN.
    private func readsBlocked(writable: Bool) -> Bool {
        writesInFlight.count >= maximumInFlightWrites || !streamsInFlight.isEmpty || !writable
    }

    /// A frame that could not even be split from the stream (bad length, unknown flags). The
    /// ERROR carries the frame's request id when its header was read, else 0.
    public mutating func framingFailed(_ error: any Error) -> Action {
        if case .closed = state { return .ignore }
        if flow.isClosed { return .ignore }
        if let error = error as? FrameDecodingError {
            return fail(.protocolViolation, "\(error.reason)", requestID: error.requestID)
        }
        let code: ErrorCode
        if case ProtocolError.frameTooLarge = error { code = .tooLarge } else { code = .protocolViolation }
        return fail(code, "\(error)", requestID: 0)
    }

    private mutating func fail(_ code: ErrorCode, _ message: String, requestID: UInt32) -> Action {
        state = .closed
        _ = flow.close()
        return .sendAndClose(.error(code: code, message: message), requestID: requestID)
    }
}
