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
public final class SlowInputGuard<Boundaries: MessageBoundaries>: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var boundaries: Boundaries
    private var deadline: Scheduled<Void>?

    public init(timeout: TimeAmount, boundaries: Boundaries) {
        self.timeout = timeout
        self.boundaries = boundaries
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let (endedOne, unfinished) = boundaries.consume(unwrapInboundIn(data).readableBytesView)
        if endedOne || !unfinished {
            // The message the deadline was for is done; a new one that started gets its own.
            deadline?.cancel()
            deadline = nil
        }
        if unfinished, deadline == nil {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                context.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
