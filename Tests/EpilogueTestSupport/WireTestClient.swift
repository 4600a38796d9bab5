import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import EpilogueStorage
@testable import EpilogueStore

/// A bare wire-protocol client for tests: raw frames, no pooling, no retries.
/// Use it through `withWireClient`, which closes the connection afterwards.
public final class WireTestClient: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<Frame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<Frame>
    public let channel: any Channel

    public init(inbound: NIOAsyncChannelInboundStream<Frame>, outbound: NIOAsyncChannelOutboundWriter<Frame>, channel: any Channel) {
        self.iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.channel = channel
    }

    /// HELLO + AUTHENTICATE; returns the final handshake message (READY or ERROR).
    @discardableResult
    public func handshake(secret: String? = nil, versions: [UInt16] = [1], dictionaries: [UInt32] = [1]) async throws -> ServerMessage {
        try await send(.hello(Hello(versions: versions, clientName: "test", dictionaries: dictionaries)), id: 0)
        let challenge = try await receive().message
        guard case .challenge(let c) = challenge else { return challenge }
        let proof = secret.map { SharedSecretAuth.proof(secret: $0, nonce: c.nonce) } ?? []
        try await send(.authenticate(proof: proof), id: 0)
        return try await receive().message
    }

    public func send(_ message: ClientMessage, id: UInt32) async throws {
        try await outbound.write(message.frame(requestID: id))
    }

    public func receive() async throws -> (message: ServerMessage, requestID: UInt32, flags: FrameFlags) {
        guard let frame = try await iterator.next() else { throw ClientClosed() }
        return (try ServerMessage(frame: frame), frame.requestID, frame.flags)
    }

    /// True when the server closed the connection (after any frames still queued).
    public func receivesEndOfStream() async -> Bool {
        do { return try await iterator.next() == nil } catch { return true }
    }

    /// Reads frames until the stream for one request ends.
    public func receiveStream() async throws -> [ServerMessage] {
        var messages: [ServerMessage] = []
        while true {
            let (message, _, flags) = try await receive()
            messages.append(message)
            if !flags.contains(.streamContinues) { return messages }
        }
    }

    public struct ClientClosed: Error {}
}

public func withWireClient<T: Sendable>(port: Int, _ body: (WireTestClient) async throws -> T) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
            }
        }
    let raw = channel.channel
    return try await channel.executeThenClose { inbound, outbound in
        try await body(WireTestClient(inbound: inbound, outbound: outbound, channel: raw))
    }
}
