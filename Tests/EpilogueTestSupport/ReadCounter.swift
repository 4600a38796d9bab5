import NIOCore

/// Counts the reads a handler asks of the channel (placed before it in the pipeline), so a test
/// sees whether the handler holds reads or issues them.
public final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    public typealias OutboundIn = Any
    public private(set) var reads = 0

    public init() {}

    public func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}
