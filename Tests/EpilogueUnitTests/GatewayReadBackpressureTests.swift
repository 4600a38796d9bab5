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

/// The handler's read gate on an EmbeddedChannel: a read is held while the client does not read
/// its replies (the channel is not writable) and issued once it is writable again.
@Suite struct GatewayReadBackpressureTests {

    @Test func readsStopWhileTheClientDoesNotReadItsRepliesAndResumeAfter() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let store = StoreClient(configuration: .init(host: "127.0.0.1", port: 1), logger: TestSupport.logger)
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(GatewayConnectionHandler(session: GatewaySession(writeToken: nil),
                                                                               maximumInFlight: 128, logger: TestSupport.logger,
                                                                               figures: { [] }, store: StoreLane(client: store, loop: channel.eventLoop)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.read()
        #expect(counter.reads == 1, "a writable connection with nothing in flight reads")

        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        channel.read()
        #expect(counter.reads == 1, "no read while the replies are not being taken")
        // A command read before the stall is still answered (HELP needs no store).
        try channel.writeInbound(LineEvent.line(ByteBuffer(string: "HELP PING")))
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 2, "the held read is issued once the channel is writable again")
        _ = try? channel.finish()
    }
}
