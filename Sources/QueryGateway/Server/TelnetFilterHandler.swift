import NIOCore

/// Removes telnet IAC sequences from the inbound bytes before line framing, so what a telnet
/// client sends for Ctrl-C (IAC IP, IAC DO TIMING-MARK) never reaches the command parser.
final class TelnetFilterHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var filter = TelnetFilter()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        // Fast path: no IAC byte and no sequence in progress means nothing to strip.
        if !filter.isInsideSequence && !buffer.readableBytesView.contains(TelnetFilter.iac) {
            context.fireChannelRead(data)
            return
        }
        let kept = filter.filter(Array(buffer.readableBytesView))
        guard !kept.isEmpty else { return }
        context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: kept)))
    }
}
