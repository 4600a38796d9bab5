import EpilogueProtocol
import NIOCore
import NIOEmbedded
@testable import EpilogueStoreClient

/// A `StoreClientHandler` on an `EmbeddedChannel`, past its handshake with a store that needs no
/// secret: what the suites that drive the handler frame by frame start from.
func embeddedStoreLink(onInvalidate: (@Sendable ([String]) -> Void)? = nil) throws -> (channel: EmbeddedChannel, handler: StoreClientHandler) {
    let channel = EmbeddedChannel()
    let ready = channel.eventLoop.makePromise(of: Void.self)
    let handler = StoreClientHandler(secret: nil, clientName: "t", readyPromise: ready, onInvalidate: onInvalidate)
    try channel.pipeline.syncOperations.addHandler(handler)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    _ = try channel.readOutbound(as: Frame.self)  // HELLO
    try channel.writeInbound(ServerMessage.challenge(Challenge(version: 1, nonce: Array(repeating: 1, count: 32), authRequired: false, serverName: "s"))
        .frame(requestID: 0))
    _ = try channel.readOutbound(as: Frame.self)  // AUTHENTICATE
    try channel.writeInbound(ServerMessage.ready(Ready(maximumFrameSize: 1 << 20)).frame(requestID: 0))
    try ready.futureResult.wait()
    return (channel, handler)
}
