import EpilogueProtocol
import EpilogueCompression
import EpilogueServerKit
import NIOCore

/// One connection to the store: executes what `StoreClientConnectionStateMachine` decides (the
/// handshake, pipelined requests matched to their answers by request id, failing everything when
/// the connection ends) and owns the I/O around it: the channel, the readiness promise and each
/// request's promise and timer.
final class StoreClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Never
    typealias OutboundOut = Frame

    /// What the handler keeps with a request while it is pending.
    struct Request {
        var promise: EventLoopPromise<[ServerMessage]>
        var timeout: Scheduled<Void>?
        /// For long streams (BACKUP): each frame but the last goes here instead of the promise.
        var onFrame: ((ServerMessage) -> Void)?
    }

    private var machine: StoreClientConnectionStateMachine<Request>
    private let readyPromise: EventLoopPromise<Void>
    /// Where the store's INVALIDATE pushes go (the record cache), on the channel's loop.
    private let onInvalidate: (@Sendable ([String]) -> Void)?
    private var context: ChannelHandlerContext?
    /// Several answers (or requests) usually complete in one loop tick: one flush after them.
    private let flusher = TickFlusher()

    /// `dictionaries`: the preset dictionary ids to announce in HELLO (bodies made with them come
    /// compressed, and the caller inflates them).
    init(secret: String?, clientName: String, dictionaries: [UInt32] = CompressionDictionary.all.map(\.id),
         readyPromise: EventLoopPromise<Void>, onInvalidate: (@Sendable ([String]) -> Void)? = nil) {
        self.machine = StoreClientConnectionStateMachine(secret: secret, clientName: clientName, dictionaries: dictionaries)
        self.readyPromise = readyPromise
        self.onInvalidate = onInvalidate
    }

    var inFlight: Int { machine.inFlight }

    /// Succeeds once the handshake is done; fails if it is refused or the connection drops first.
    var ready: EventLoopFuture<Void> { readyPromise.futureResult }

    /// The dictionary ids the store's READY listed (GET_DICTIONARY can fetch them); empty before.
    var storeDictionaries: [UInt32] { machine.ready?.dictionaries ?? [] }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { run(machine.connected(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        run(machine.connected(), context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        run(machine.frameReceived(unwrapInboundIn(data)), context: context)
    }

    /// Sends a request; must be called on the channel's event loop. `timeout` nil: no timer (a
    /// `StoreStream` watches the frames instead).
    func send(_ message: ClientMessage, traceID: UInt64?, timeout: TimeAmount?, promise: EventLoopPromise<[ServerMessage]>,
              onFrame: ((ServerMessage) -> Void)? = nil) {
        guard let context else {
            promise.fail(StoreClientError.unavailable("connection is not ready"))
            return
        }
        var request = Request(promise: promise, timeout: nil, onFrame: onFrame)
        if machine.isReady, let timeout {
            let id = machine.nextRequestID
            request.timeout = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
                guard let self else { return }
                self.run(self.machine.requestTimedOut(requestID: id, milliseconds: timeout.nanoseconds / 1_000_000), context: context)
            }
        }
        run(machine.send(message, traceID: traceID, request: request, forwardsStream: onFrame != nil), context: context)
    }

    /// A stream's reader is behind (`StoreStream.pause`): stop reading. Turning `autoRead` off
    /// also withdraws a read already requested, so nothing more than the read under way arrives.
    func pauseReads() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    func resumeReads() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.connectionClosed(), context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        run(machine.errorCaught(error), context: context)
    }

    private func run(_ action: StoreClientConnectionStateMachine<Request>.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .sendHandshake(let message):
            context.writeAndFlush(wrapOutboundOut(message.frame(requestID: 0)), promise: nil)
        case .sendRequest(let message, let id, let traceID):
            context.write(wrapOutboundOut(message.frame(requestID: id, traceID: traceID)), promise: nil)
            flusher.flushSoon(context)
        case .handshakeCompleted:
            readyPromise.succeed()
        case .invalidate(let ids):
            onInvalidate?(ids)
        case .forward(let message, let request):
            request.onFrame?(message)
        case .succeed(let request, let messages):
            request.timeout?.cancel()
            request.promise.succeed(messages)
        case .fail(let request, let error):
            request.timeout?.cancel()
            request.promise.fail(error)
        case .close(let closing):
            if closing.handshakeFailed { readyPromise.fail(closing.error) }
            for (request, error) in closing.requests {
                request.timeout?.cancel()
                request.promise.fail(error)
            }
            context.close(promise: nil)
        }
    }
}
