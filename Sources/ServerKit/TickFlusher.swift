import NIOCore

/// Coalesces the flushes a channel handler asks for within one event-loop tick into one flush
/// after them, so answers completed together (one fsync covering many writes, a pipelined batch,
/// many clients' requests on one store connection) go out in one write. Loop-bound: call it only
/// from the channel's event loop.
public final class TickFlusher {
    private var scheduled = false

    public init() {}

    public func flushSoon(_ context: ChannelHandlerContext) {
        guard !scheduled else { return }
        scheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.scheduled = false
            context.flush()
        }
    }
}
