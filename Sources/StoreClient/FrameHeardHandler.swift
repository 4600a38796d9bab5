import EpilogueProtocol
import NIOCore

/// Sits before the tracking connection's `StoreClientHandler` and tells the record cache that a
/// frame arrived, whatever it is: what keeps the cache's `TrackingLease` alive.
final class FrameHeardHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame

    private let heard: @Sendable () -> Void

    init(heard: @escaping @Sendable () -> Void) {
        self.heard = heard
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        heard()
        context.fireChannelRead(data)
    }
}
