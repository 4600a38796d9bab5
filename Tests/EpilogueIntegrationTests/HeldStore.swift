import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

/// A store stand-in that completes the handshake and then holds every request until the test
/// answers it, so a test can see how many requests the gateway has sent.
final class HeldStore: Sendable {
    fileprivate struct Held {
        var channel: any Channel
        var requestID: UInt32
        var message: ClientMessage
    }

    private let held = NIOLockedValueBox<[Held]>([])
    private let received = NIOLockedValueBox(0)
    /// Once released, requests are answered as they arrive.
    private let released = NIOLockedValueBox(false)
    private let listener: any Channel

    var port: Int { listener.localAddress?.port ?? 0 }
    var requestsReceived: Int { received.withLockedValue { $0 } }

    init() async throws {
        let heldBox = held
        let receivedBox = received
        let releasedBox = released
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try channel.pipeline.syncOperations.addHandler(Handler(held: heldBox, received: receivedBox, released: releasedBox))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Answers every held PING with PONG, and from now on every PING as it arrives.
    func release() {
        released.withLockedValue { $0 = true }
        let all = held.withLockedValue { held in defer { held.removeAll() }; return held }
        for request in all { Self.answer(request) }
    }

    fileprivate static func answer(_ request: Held) {
        guard case .ping(let data) = request.message else { return }
        request.channel.writeAndFlush(ServerMessage.pong(data).frame(requestID: request.requestID), promise: nil)
    }

    func close() { listener.close(promise: nil) }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = Frame
        typealias OutboundOut = Frame
        var machine = StoreConnectionStateMachine(secret: nil)
        let held: NIOLockedValueBox<[Held]>
        let received: NIOLockedValueBox<Int>
        let released: NIOLockedValueBox<Bool>

        init(held: NIOLockedValueBox<[Held]>, received: NIOLockedValueBox<Int>, released: NIOLockedValueBox<Bool>) {
            self.held = held
            self.received = received
            self.released = released
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch machine.frameReceived(unwrapInboundIn(data)) {
            case .send(let message, let id): context.writeAndFlush(wrapOutboundOut(message.frame(requestID: id)), promise: nil)
            case .sendAndClose(let message, let id): context.writeAndFlush(wrapOutboundOut(message.frame(requestID: id)), promise: nil); context.close(promise: nil)
            case .serve(let message, let id):
                let channel = context.channel
                received.withLockedValue { $0 += 1 }
                let request = Held(channel: channel, requestID: id, message: message)
                if released.withLockedValue({ $0 }) {
                    HeldStore.answer(request)
                } else {
                    held.withLockedValue { $0.append(request) }
                }
            case .ignore, .refuse: break
            }
        }
    }
}
