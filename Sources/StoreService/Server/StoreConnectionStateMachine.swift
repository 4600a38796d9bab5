import EpilogueProtocol
import EpilogueShared

/// The handshake and request gating of one store connection, as a value type: it consumes
/// frames and returns what to do, so every path is tested without a socket.
///
///     awaitingHello --HELLO--> awaitingProof --AUTHENTICATE--> ready --requests...
///           any other frame, bad version, bad proof, undecodable frame --> closed
public struct StoreConnectionStateMachine {
    public enum Action: Equatable {
        case send(ServerMessage, requestID: UInt32)
        case sendAndClose(ServerMessage, requestID: UInt32)
        case serve(ClientMessage, requestID: UInt32)
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
    private let secret: String?
    private let serverName: String
    private let maximumFrameSize: UInt32
    private let makeNonce: () -> [UInt8]

    public init(secret: String?, serverName: String = "epilogue-store", maximumFrameSize: UInt32 = WireProtocol.defaultMaximumFrameSize,
                makeNonce: @escaping () -> [UInt8] = { SharedSecretAuth.makeNonce() }) {
        self.secret = secret
        self.serverName = serverName
        self.maximumFrameSize = maximumFrameSize
        self.makeNonce = makeNonce
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

    public mutating func frameReceived(_ frame: Frame) -> Action {
        if case .closed = state { return .ignore }
        let message: ClientMessage
        do {
            message = try ClientMessage(frame: frame)
        } catch {
            return fail(.protocolViolation, "\(error)", requestID: frame.requestID)
        }
        switch (state, message) {
        case (.awaitingHello, .hello(let hello)):
            guard hello.versions.contains(WireProtocol.version) else {
                let offered = hello.versions.map(String.init).joined(separator: ", ")
                return fail(.versionUnsupported, "server speaks protocol version \(WireProtocol.version); client offered [\(offered)]",
                            requestID: frame.requestID)
            }
            let nonce = makeNonce()
            state = .awaitingProof(nonce: nonce, dictionaries: Set(hello.dictionaries))
            return .send(.challenge(Challenge(version: WireProtocol.version, nonce: nonce, authRequired: secret != nil,
                                              serverName: serverName)), requestID: frame.requestID)
        case (.awaitingHello, _):
            return fail(.protocolViolation, "expected HELLO first", requestID: frame.requestID)
        case (.awaitingProof(let nonce, let dictionaries), .authenticate(let proof)):
            if let secret {
                guard !proof.isEmpty else {
                    return fail(.unauthorized, "this store requires the shared secret", requestID: frame.requestID)
                }
                guard SharedSecretAuth.verify(proof: proof, secret: secret, nonce: nonce) else {
                    return fail(.unauthorized, "authentication proof is wrong", requestID: frame.requestID)
                }
            }
            state = .ready(dictionaries: dictionaries)
            return .send(.ready(Ready(maximumFrameSize: maximumFrameSize)), requestID: frame.requestID)
        case (.awaitingProof, _):
            return fail(.protocolViolation, "expected AUTHENTICATE after CHALLENGE", requestID: frame.requestID)
        case (.ready, .hello), (.ready, .authenticate):
            return fail(.protocolViolation, "handshake already complete", requestID: frame.requestID)
        case (.ready, _):
            return .serve(message, requestID: frame.requestID)
        case (.closed, _):
            return .ignore
        }
    }

    /// A frame that could not even be split from the stream (bad length, unknown flags).
    public mutating func framingFailed(_ error: any Error) -> Action {
        if case .closed = state { return .ignore }
        let code: ErrorCode
        if case ProtocolError.frameTooLarge = error { code = .tooLarge } else { code = .protocolViolation }
        return fail(code, "\(error)", requestID: 0)
    }

    private mutating func fail(_ code: ErrorCode, _ message: String, requestID: UInt32) -> Action {
        state = .closed
        return .sendAndClose(.error(code: code, message: message), requestID: requestID)
    }
}
