import NIOCore

/// Where messages end in a byte stream, found without decoding them: what `SlowInputGuard` needs
/// to know whether a message has been started and not yet finished.
public protocol MessageBoundaries {
    /// Takes the next bytes of the stream. Returns whether at least one message ended in them and
    /// whether, after them, a message is started but unfinished.
    mutating func consume(_ bytes: ByteBufferView) -> (endedOne: Bool, unfinished: Bool)
}

/// Lines ended by `\n` (the gateway's text protocol).
public struct LineBoundaries: MessageBoundaries {
    public init() {}

    public mutating func consume(_ bytes: ByteBufferView) -> (endedOne: Bool, unfinished: Bool) {
        guard let last = bytes.last else { return (false, false) }
        return (bytes.contains(UInt8(ascii: "\n")), last != UInt8(ascii: "\n"))
    }
}

/// Drops a client that starts a message and does not finish it within `timeout`. The idle
/// timeout alone can't catch this: a client trickling one byte a second is never idle. Sits in
/// front of the decoder and passes every byte on unchanged.
///
/// Only the client is blamed: when the timeout passes while the server itself has stopped
/// reading (backpressure: earlier requests still being served), the client gets a new `timeout`
/// from the moment the server reads again.
public final class SlowInputGuard<Boundaries: MessageBoundaries>: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var boundaries: Boundaries
    private var unfinished = false
    /// The server has asked for bytes and not yet had a read complete.
    private var waitingForClient = false
    private var deadline: Scheduled<Void>?

    public init(timeout: TimeAmount, boundaries: Boundaries) {
        self.timeout = timeout
        self.boundaries = boundaries
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let (endedOne, unfinished) = boundaries.consume(unwrapInboundIn(data).readableBytesView)
        self.unfinished = unfinished
        if endedOne || !unfinished {
            // The message the deadline was for is done; a new one that started gets its own.
            deadline?.cancel()
            deadline = nil
        }
        armIfNeeded(context: context)
        context.fireChannelRead(data)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        waitingForClient = false
        context.fireChannelReadComplete()
    }

    public func read(context: ChannelHandlerContext) {
        waitingForClient = true
        armIfNeeded(context: context)
        context.read()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    private func armIfNeeded(context: ChannelHandlerContext) {
        guard unfinished, deadline == nil else { return }
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            deadline = nil
            // Not waiting for the client: the rest of the message is unread because of us.
            if waitingForClient { context.close(promise: nil) }
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// The front of both services' connection pipelines: a connection that sends nothing for
    /// `idleTimeout` is closed, and so is one that leaves a started message unfinished for
    /// `messageTimeout` (`SlowInputGuard`). `busyWhileWriting`: a connection whose answers are
    /// still going out is not idle either (the gateway streaming a long EXPORT to a client that
    /// only reads); it is closed once nothing was read nor written for `idleTimeout`.
    public func addInputTimeouts<Boundaries: MessageBoundaries>(idleTimeout: TimeAmount, messageTimeout: TimeAmount,
                                                                boundaries: Boundaries, busyWhileWriting: Bool = false) throws {
        try addHandler(busyWhileWriting ? IdleStateHandler(allTimeout: idleTimeout) : IdleStateHandler(readTimeout: idleTimeout))
        try addHandler(IdleConnectionCloser())
        try addHandler(SlowInputGuard(timeout: messageTimeout, boundaries: boundaries))
    }
}
