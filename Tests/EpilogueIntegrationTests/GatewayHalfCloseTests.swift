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

@Suite(.timeLimit(.minutes(1))) struct GatewayHalfCloseTests {
    /// Sends `bytes`, half-closes, and returns everything the gateway sent until it closed.
    private func sendAndHalfClose(port: Int, _ bytes: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel,
                                                                configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            outbound.finish()
            var received = ""
            for try await chunk in inbound { received += String(buffer: chunk) }
            return received
        }
    }

    @Test func lastLineWithoutLFBeforeTheClientHalfClosesIsServed() async throws {
        try await withStack { port, _ in
            let alone = try await sendAndHalfClose(port: port, "PING")
            #expect(alone == "OK PONG\r\n.\r\n")
            let afterAnother = try await sendAndHalfClose(port: port, "HELP PING\nPING")
            #expect(afterAnother.hasPrefix("OK") && afterAnother.hasSuffix(".\r\nOK PONG\r\n.\r\n"), "\(afterAnother)")
            let withCR = try await sendAndHalfClose(port: port, "GET nothing/here\r")
            #expect(withCR == "ERR NOT_FOUND no record with id 'nothing/here'\r\n.\r\n")
            // A lone blank remainder gets no answer, as a blank line would not.
            let blankRest = try await sendAndHalfClose(port: port, "PING\n   ")
            #expect(blankRest == "OK PONG\r\n.\r\n")
        }
    }
}
