import EpilogueProtocol
import EpilogueCompression
import EpilogueServerKit
import NIOCore

/// One connection to the store: performs the handshake, then multiplexes pipelined requests by
/// request id. Answers may come back in any order; each is matched to its request by id, and a
/// late answer to a request that already timed out is dropped rather than given to another.
final class StoreClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Never
    typealias OutboundOut = Frame

    private struct Pending {
        var promise: EventLoopPromise<[ServerMessage]>
        var received: [ServerMessage]
        var timeout: Scheduled<Void>?
        /// For long streams (BACKUP): each frame but the last goes here instead of `received`.
        var onFrame: ((ServerMessage) -> Void)? = nil
    }

    private enum State {
        case awaitingChallenge
        case awaitingReady
        case ready
        case closed
    }

    private let secret: String?
    private let clientName: String
    private let readyPromise: EventLoopPromise<Void>
    private var state: State = .awaitingChallenge
    private var pending: [UInt32: Pending] = [:]
    private var nextRequestID: UInt32 = 1
    private var context: ChannelHandlerContext?
    /// Several answers (or requests) usually complete in one loop tick: one flush after them.
    private let flusher = TickFlusher()

    init(secret: String?, clientName: String, readyPromise: EventLoopPromise<Void>) {
        self.secret = secret
        self.clientName = clientName
        self.readyPromise = readyPromise
    }

    var inFlight: Int { pending.count }

    /// Succeeds once the handshake is done; fails if it is refused or the connection drops first.
    var ready: EventLoopFuture<Void> { readyPromise.futureResult }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { sendHello(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendHello(context: context)
        context.fireChannelActive()
    }

    private func sendHello(context: ChannelHandlerContext) {
        guard case .awaitingChallenge = state else { return }
        let hello = Hello(versions: [WireProtocol.version], clientName: clientName,
                          dictionaries: CompressionDictionary.all.map(\.id))
        context.writeAndFlush(wrapOutboundOut(ClientMessage.hello(hello).frame(requestID: 0)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let message: ServerMessage
        do {
            message = try ServerMessage(frame: frame)
        } catch {
            fail(context: context, .protocolError("\(error)"))
            return
        }
        switch state {
        case .awaitingChallenge:
            guard case .challenge(let challenge) = message else { return handshakeFailed(context: context, message) }
            let proof = (challenge.authRequired ? secret : nil).map { SharedSecretAuth.proof(secret: $0, nonce: challenge.nonce) } ?? []
            state = .awaitingReady
            context.writeAndFlush(wrapOutboundOut(ClientMessage.authenticate(proof: proof).frame(requestID: 0)), promise: nil)
        case .awaitingReady:
            guard case .ready = message else { return handshakeFailed(context: context, message) }
            state = .ready
            readyPromise.succeed()
        case .ready:
            guard var entry = pending[frame.requestID] else { return }  // timed out earlier: drop
            if let onFrame = entry.onFrame, frame.flags.contains(.streamContinues) {
                onFrame(message)
                return
            }
            entry.received.append(message)
            if frame.flags.contains(.streamContinues) {
                pending[frame.requestID] = entry
            } else {
                pending[frame.requestID] = nil
                entry.timeout?.cancel()
                entry.promise.succeed(entry.received)
            }
        case .closed:
            break
        }
    }

    private func handshakeFailed(context: ChannelHandlerContext, _ message: ServerMessage) {
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
        fail(context: context, .unavailable(why))
    }

    /// Sends a request; must be called on the channel's event loop.
    func send(_ message: ClientMessage, traceID: UInt64?, timeout: TimeAmount, promise: EventLoopPromise<[ServerMessage]>,
              onFrame: ((ServerMessage) -> Void)? = nil) {
        guard case .ready = state, let context else {
            promise.fail(StoreClientError.unavailable("connection is not ready"))
            return
        }
        let id = nextRequestID
        nextRequestID = nextRequestID == UInt32.max ? 1 : nextRequestID + 1
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, let entry = self.pending.removeValue(forKey: id) else { return }
            entry.promise.fail(StoreClientError.timeout(milliseconds: timeout.nanoseconds / 1_000_000))
            // A silent connection is most likely dead (a cut link never sends a RST): drop it so the
            // pool reconnects, rather than feeding it more requests that would time out too.
            self.fail(context: context, .unavailable("store stopped answering on this connection"))
        }
        pending[id] = Pending(promise: promise, received: [], timeout: scheduled, onFrame: onFrame)
        context.write(wrapOutboundOut(message.frame(requestID: id, traceID: traceID)), promise: nil)
        flusher.flushSoon(context)
    }


    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, .unavailable("connection to the store closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, .unavailable("\(error)"))
    }

    private func fail(context: ChannelHandlerContext, _ error: StoreClientError) {
        switch state {
        case .closed: return
        case .awaitingChallenge, .awaitingReady: readyPromise.fail(error)
        case .ready: break
        }
        state = .closed
        let failed = pending
        pending.removeAll()
        for entry in failed.values {
            entry.timeout?.cancel()
            entry.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
