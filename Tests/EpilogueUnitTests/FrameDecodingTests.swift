import EpilogueTestSupport
import Foundation
import NIOCore
import NIOTestUtils
import Testing
@testable import EpilogueProtocol

@Suite struct FrameDecodingTests {
    private func frameBytes(type: UInt8, flags: UInt8 = 0, requestID: UInt32 = 1, payload: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(6 + payload.count))
        buffer.writeInteger(type)
        buffer.writeInteger(flags)
        buffer.writeInteger(requestID)
        buffer.writeBytes(payload)
        return buffer
    }

    @Test func decoderHandlesEveryWayTheBytesCanBeSplit() throws {
        let frames = GoldenVector.all.map { $0.encodedFrame() }
        let pairs: [(ByteBuffer, [Frame])] = frames.map { frame in
            var buffer = ByteBuffer()
            frame.write(to: &buffer)
            return (buffer, [frame])
        }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            FrameDecoder()
        }
    }

    @Test func partialFrameWaitsWithoutConsuming() throws {
        var whole = frameBytes(type: MessageType.get.rawValue, payload: [0, 0, 0, 1, 0x41])
        var partial = whole.readSlice(length: 7)!
        var decoder = FrameDecoder()
        #expect(try decoder.decode(buffer: &partial) == nil)
        #expect(partial.readableBytes == 7)
    }

    @Test func oversizedLengthIsRejectedBeforeTheBodyArrives() {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32.max)
        var decoder = FrameDecoder(maximumFrameSize: 1024)
        #expect(throws: ProtocolError.frameTooLarge(declared: .max, maximum: 1024)) {
            try decoder.decode(buffer: &buffer)
        }
    }

    @Test func lengthShorterThanHeaderIsRejected() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 5, 0x10, 0, 0, 0, 0])
        var decoder = FrameDecoder()
        #expect(throws: ProtocolError.frameTooShort(declared: 5)) { try decoder.decode(buffer: &buffer) }
    }

    @Test func unknownFlagBitsAreRejectedWithTheRequestIDOfTheFrame() {
        var buffer = frameBytes(type: MessageType.listFilms.rawValue, flags: 0x80, payload: [])
        var decoder = FrameDecoder()
        #expect(throws: FrameDecodingError(requestID: 1, reason: .unknownFlags(0x80))) { try decoder.decode(buffer: &buffer) }
    }

    @Test func traceIDCutShortIsRejectedWithTheRequestIDOfTheFrame() {
        var buffer = frameBytes(type: MessageType.listFilms.rawValue, flags: FrameFlags.traced.rawValue, payload: [1, 2, 3])
        var decoder = FrameDecoder()
        #expect(throws: FrameDecodingError(requestID: 1, reason: .truncated("trace id"))) { try decoder.decode(buffer: &buffer) }
    }

    /// `length` counts the bytes after the 4-byte prefix: exactly the maximum is accepted, one more is not.
    @Test func maximumFrameSizeCountsTheBytesAfterTheLengthPrefix() throws {
        let payload = [UInt8](repeating: 0, count: Int(WireProtocol.defaultMaximumFrameSize) - WireProtocol.headerSize)
        var atLimit = frameBytes(type: MessageType.ping.rawValue, flags: 0, payload: payload)
        #expect(atLimit.getInteger(at: 0, as: UInt32.self) == 1_048_576)
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &atLimit))
        #expect(frame.payload.readableBytes == payload.count)
        var overLimit = frameBytes(type: MessageType.ping.rawValue, flags: 0, payload: payload + [0])
        #expect(throws: ProtocolError.frameTooLarge(declared: 1_048_577, maximum: 1_048_576)) { try decoder.decode(buffer: &overLimit) }
    }

    @Test func unknownMessageTypeIsADecodingError() throws {
        let frame = Frame(type: 0x7E, requestID: 1, payload: ByteBuffer())
        #expect(throws: ProtocolError.unknownMessageType(0x7E)) { try ClientMessage(frame: frame) }
        #expect(throws: ProtocolError.unknownMessageType(0x7E)) { try ServerMessage(frame: frame) }
    }

    @Test func responseTypeSentByAClientIsRejected() {
        let frame = ServerMessage.pong(ByteBuffer()).frame(requestID: 1)
        #expect(throws: ProtocolError.unexpectedMessageType(MessageType.pong.rawValue)) { try ClientMessage(frame: frame) }
    }

    @Test func truncatedPayloadIsADecodingErrorAtEveryCut() throws {
        for vector in GoldenVector.all {
            let frame = vector.encodedFrame()
            let payload = Array(buffer: frame.payload)
            // Cut before their appended list, READY and VERSION_UNSUPPORTED are what older stores sent;
            // SEARCH without its optional trailing offset is a first-page SEARCH.
            let olderForms: Set<Int> = ["ready": [4], "error-version-unsupported": [payload.count - 6], "search-offset": [payload.count - 4],
                                        "search-fuzzy": [payload.count - 5, payload.count - 1], "result-end-suggestions": [8]][vector.name] ?? []
            for cut in 0..<payload.count where !olderForms.contains(cut) {
                let truncated = Frame(type: frame.type, flags: frame.flags, requestID: 1, payload: ByteBuffer(bytes: payload[0..<cut]))
                switch vector.message {
                case .client: #expect(throws: ProtocolError.self, "\(vector.name) cut at \(cut)") { try ClientMessage(frame: truncated) }
                case .server: #expect(throws: ProtocolError.self, "\(vector.name) cut at \(cut)") { try ServerMessage(frame: truncated) }
                }
            }
        }
    }

    @Test func trailingBytesAreADecodingError() {
        var payload = ByteBuffer()
        ClientMessage.get(id: "x").encodePayload(into: &payload)
        payload.writeInteger(UInt8(0))
        let frame = Frame(type: MessageType.get.rawValue, requestID: 1, payload: payload)
        #expect(throws: ProtocolError.trailingBytes(messageType: MessageType.get.rawValue, count: 1)) { try ClientMessage(frame: frame) }
    }

    @Test func invalidUTF8InAStringIsADecodingError() {
        let frame = Frame(type: MessageType.get.rawValue, requestID: 1, payload: ByteBuffer(bytes: [0, 0, 0, 2, 0xC3, 0x28]))
        #expect(throws: ProtocolError.invalidUTF8("id")) { try ClientMessage(frame: frame) }
    }

    @Test func hugeStringLengthIsTruncationNotAllocation() {
        let frame = Frame(type: MessageType.get.rawValue, requestID: 1, payload: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0x41]))
        #expect(throws: ProtocolError.truncated("id")) { try ClientMessage(frame: frame) }
    }

    @Test func hugeListCountIsTruncationNotAllocation() {
        var payload = ByteBuffer()
        payload.writeInteger(WireProtocol.magic)
        payload.writeInteger(UInt32.max)
        let frame = Frame(type: MessageType.hello.rawValue, requestID: 0, payload: payload)
        #expect(throws: ProtocolError.truncated("versions")) { try ClientMessage(frame: frame) }
    }

    @Test func helloWithoutMagicIsRejected() {
        let frame = Frame(type: MessageType.hello.rawValue, requestID: 0, payload: ByteBuffer(bytes: [0x47, 0x45, 0x54, 0x20]))
        #expect(throws: ProtocolError.invalidValue(field: "magic", reason: "expected EPIL")) { try ClientMessage(frame: frame) }
    }

    @Test func unknownSourceKindIsRejected() {
        var payload = ByteBuffer()
        payload.writeBytes([0, 0, 1, 9, 0, 0, 0, 0, 10, 0, 0, 0, 0]) // film, theme absent; kind 9; subject absent; limit; offset
        let frame = Frame(type: MessageType.query.rawValue, requestID: 1, payload: payload)
        #expect(throws: ProtocolError.invalidValue(field: "sourceKind", reason: "unknown source kind 9")) { try ClientMessage(frame: frame) }
    }

    /// Random bytes never trap, and every outcome is a well-formed one: a frame, "wait for more",
    /// or a ProtocolError — for the frame decoder and for both message decoders. The seed is
    /// printed on failure (EPILOGUE_TEST_SEED replays it).
    @Test func randomBytesNeverTrapAndFailOnlyWithProtocolErrors() throws {
        let seed = TestSeed()
        var generator = seed.generator
        var frames = 0, waiting = 0, rejectedFrames = 0, messagesDecoded = 0, messagesRejected = 0
        for _ in 0..<5_000 {
            // Lengths below 64 would rarely form a whole frame: half the inputs get a plausible
            // length prefix so the message decoders are reached too.
            let count = Int(generator.next() % 64)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            if generator.next() % 2 == 0, count >= 4 {
                bytes.replaceSubrange(0..<4, with: [0, 0, 0, UInt8(6 + generator.next() % UInt64(max(1, count - 4)))])
            }
            var buffer = ByteBuffer(bytes: bytes)
            var decoder = FrameDecoder(maximumFrameSize: 4096)
            do {
                while let frame = try decoder.decode(buffer: &buffer) {
                    frames += 1
                    for decode in [{ _ = try ClientMessage(frame: frame) }, { _ = try ServerMessage(frame: frame) }] as [() throws -> Void] {
                        do {
                            try decode()
                            messagesDecoded += 1
                        } catch is ProtocolError {
                            messagesRejected += 1
                        } catch {
                            Issue.record("message decoding threw \(error), not a ProtocolError, for \(bytes); \(seed)")
                        }
                    }
                }
                waiting += 1
            } catch is ProtocolError {
                rejectedFrames += 1
            } catch is FrameDecodingError {
                // A ProtocolError with the request id of a frame whose header was read.
                rejectedFrames += 1
            } catch {
                Issue.record("frame decoding threw \(error), not a ProtocolError, for \(bytes); \(seed)")
            }
        }
        // The inputs reached every outcome, so the loop above exercised each path.
        #expect(frames > 0 && waiting > 0 && rejectedFrames > 0 && messagesRejected > 0,
                "frames \(frames), waiting \(waiting), rejected frames \(rejectedFrames), messages decoded \(messagesDecoded) / rejected \(messagesRejected); \(seed)")
    }
}
