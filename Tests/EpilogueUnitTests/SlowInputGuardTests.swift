import EpilogueProtocol
import EpilogueServerKit
import EpilogueStorage
import EpilogueStore
import EpilogueTestSupport
import NIOCore
import NIOEmbedded
import Testing

/// `SlowInputGuard` with the store's frame boundaries and the gateway's line boundaries, on an
/// embedded channel whose clock the test moves.
@Suite struct SlowInputGuardTests {
    private func frameBytes(payload: Int) -> [UInt8] {
        var buffer = ByteBuffer()
        Frame(type: MessageType.ping.rawValue, requestID: 1, payload: ByteBuffer(repeating: 0x61, count: payload)).write(to: &buffer)
        return Array(buffer: buffer)
    }

    private func channel<B: MessageBoundaries>(_ boundaries: B) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: SlowInputGuard(timeout: .seconds(2), boundaries: boundaries))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.read()
        return channel
    }

    /// Delivers bytes as one socket read, then asks for more, as a server that keeps reading does.
    private func feed(_ channel: EmbeddedChannel, _ bytes: some Collection<UInt8>) throws {
        try channel.writeInbound(ByteBuffer(bytes: Array(bytes)))
        channel.pipeline.fireChannelReadComplete()
        channel.read()
    }

    @Test func frameTrickledOneBytePerSecondIsClosedAtTheTimeout() throws {
        let channel = try channel(FrameBoundaries())
        let frame = frameBytes(payload: 10)
        for byte in frame.prefix(3) where channel.isActive {
            try feed(channel, [byte])
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(!channel.isActive)
    }

    @Test func wholeFramesInAnyChunkingKeepTheConnection() throws {
        let channel = try channel(FrameBoundaries())
        let stream = frameBytes(payload: 3) + frameBytes(payload: 300) + frameBytes(payload: 0)
        // Chunks that split the length prefix and the bodies; each frame is whole within the timeout.
        for chunk in stride(from: 0, to: stream.count, by: 7) {
            try feed(channel, stream[chunk..<min(chunk + 7, stream.count)])
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(20))
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        // Every byte was passed on unchanged.
        var received: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { received += Array(buffer: buffer) }
        #expect(received == stream)
    }

    @Test func eachStartedFrameGetsItsOwnDeadline() throws {
        let channel = try channel(FrameBoundaries())
        let frame = frameBytes(payload: 4)
        // Frames that end and new ones that start in the same chunk, 1.5 s apart: every frame is
        // finished within 2 s of its first byte, though some frame is always unfinished.
        try feed(channel, frame.prefix(5))
        for _ in 0..<5 {
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_500))
            try feed(channel, frame.suffix(from: 5) + frame.prefix(5))
        }
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func timeTheServerSpendsNotReadingIsNotTheClientsFault() throws {
        let channel = try channel(FrameBoundaries())
        // Half a frame arrives, then the server stops asking for bytes (backpressure) for a minute.
        try channel.writeInbound(ByteBuffer(bytes: frameBytes(payload: 4).prefix(5)))
        channel.pipeline.fireChannelReadComplete()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        // Reading again, the server gives the client the whole timeout from then on.
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
        #expect(!channel.isActive)
    }

    @Test func unfinishedLineIsClosedAndFinishedLinesAreNot() throws {
        let open = try channel(LineBoundaries())
        try feed(open, Array("PING\nGET a".utf8))
        open.embeddedEventLoop.advanceTime(by: .seconds(1))
        try feed(open, Array("bc\nPI".utf8))
        open.embeddedEventLoop.advanceTime(by: .milliseconds(1_500))
        try feed(open, Array("NG\n".utf8))
        open.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(open.isActive)

        let trickling = try channel(LineBoundaries())
        for byte in "GET abc".utf8 where trickling.isActive {
            try feed(trickling, [byte])
            trickling.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(!trickling.isActive)
    }
}
