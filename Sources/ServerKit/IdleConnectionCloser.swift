import NIOCore

/// Closes a connection when `IdleStateHandler` reports that nothing was read (or, with its
/// `allTimeout`, nothing read nor written) for its timeout.
public final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    public typealias InboundIn = NIOAny

    public init() {}

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read || idle == .all {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
