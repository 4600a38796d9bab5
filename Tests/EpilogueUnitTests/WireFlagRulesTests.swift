import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// docs/PROTOCOL.md §1–2 rules that had no test: TRACED is for requests only, STREAM_CONTINUES for
/// responses only, `bool` and `optional` bytes other than 0/1 are decoding errors, and ERROR frames
/// carry the request id of the request they answer (0 when the frame could not be split).
@Suite struct WireFlagRulesTests {
    private func payload(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    @Test func responseWithTracedIsADecodingErrorButTheSameResponseWithoutItDecodes() throws {
        var data = ByteBuffer()
        data.writeInteger(UInt32(0))
        let plain = Frame(type: MessageType.pong.rawValue, requestID: 3, payload: data)
        #expect(try ServerMessage(frame: plain) == .pong(ByteBuffer()))
        let traced = Frame(type: MessageType.pong.rawValue, requestID: 3, traceID: 0x0102, payload: data)
        #expect(traced.flags.contains(.traced))
        #expect(throws: ProtocolError.invalidValue(field: "flags", reason: "TRACED is only valid on requests")) {
            try ServerMessage(frame: traced)
        }
    }

    @Test func requestWithTracedDecodesAndKeepsItsTraceID() throws {
        // The same bytes as docs/protocol-vectors/get-traced.hex (docs/PROTOCOL.md §5).
        var bytes = ByteBuffer(bytes: [0, 0, 0, 0x13, 0x11, 0x02, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1, 0x78])
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &bytes))
        #expect(frame.traceID == 0x0102030405060708)
        #expect(try ClientMessage(frame: frame) == .get(id: "x"))
    }

    @Test func requestWithStreamContinuesIsADecodingErrorButAResponseMayCarryIt() throws {
        var data = ByteBuffer()
        data.writeInteger(UInt32(0))
        let request = Frame(type: MessageType.ping.rawValue, flags: .streamContinues, requestID: 4, payload: data)
        #expect(throws: ProtocolError.invalidValue(field: "flags", reason: "STREAM_CONTINUES is only valid on responses")) {
            try ClientMessage(frame: request)
        }
        let withoutFlag = Frame(type: MessageType.ping.rawValue, requestID: 4, payload: data)
        #expect(try ClientMessage(frame: withoutFlag) == .ping(ByteBuffer()))
        let response = ServerMessage.pong(ByteBuffer()).frame(requestID: 4, flags: .streamContinues)
        #expect(try ServerMessage(frame: response) == .pong(ByteBuffer()))
    }

    /// CHALLENGE's `bool auth_required`, byte by byte: 0 and 1 decode, 2…255 are errors.
    @Test func boolByteOtherThanZeroOrOneIsADecodingError() throws {
        func challenge(_ flag: UInt8) -> Frame {
            var p = ByteBuffer()
            p.writeInteger(UInt16(1))
            p.writeInteger(UInt32(32))
            p.writeBytes([UInt8](repeating: 7, count: 32))
            p.writeInteger(flag)
            p.writeInteger(UInt32(1))
            p.writeBytes(Array("s".utf8))
            return Frame(type: MessageType.challenge.rawValue, requestID: 0, payload: p)
        }
        guard case .challenge(let no) = try ServerMessage(frame: challenge(0)) else { Issue.record("not a challenge"); return }
        #expect(no.authRequired == false)
        guard case .challenge(let yes) = try ServerMessage(frame: challenge(1)) else { Issue.record("not a challenge"); return }
        #expect(yes.authRequired == true)
        for flag in UInt8(2)...UInt8.max {
            #expect(throws: ProtocolError.invalidValue(field: "authRequired", reason: "boolean byte must be 0 or 1, got \(flag)")) {
                try ServerMessage(frame: challenge(flag))
            }
        }
    }

    /// `optional<T>` presence bytes in LIST_THEMES (film), DELETE (expected_version) and QUERY's filter.
    @Test func optionalPresenceByteOtherThanZeroOrOneIsADecodingError() throws {
        func themes(_ presence: UInt8) -> Frame {
            var p = ByteBuffer()
            p.writeInteger(presence)
            if presence != 0 {
                p.writeInteger(UInt32(1))
                p.writeBytes(Array("F".utf8))
            }
            return Frame(type: MessageType.listThemes.rawValue, requestID: 9, payload: p)
        }
        #expect(try ClientMessage(frame: themes(0)) == .listThemes(film: nil))
        #expect(try ClientMessage(frame: themes(1)) == .listThemes(film: "F"))
        for presence: UInt8 in [2, 3, 0x80, 0xFF] {
            #expect(throws: ProtocolError.self) { try ClientMessage(frame: themes(presence)) }
        }

        func delete(_ presence: UInt8) -> Frame {
            var p = ByteBuffer()
            p.writeInteger(UInt32(1))
            p.writeBytes(Array("x".utf8))
            p.writeInteger(presence)
            if presence != 0 { p.writeInteger(UInt64(5)) }
            return Frame(type: MessageType.delete.rawValue, requestID: 9, payload: p)
        }
        #expect(try ClientMessage(frame: delete(0)) == .delete(id: "x", expectedVersion: nil))
        #expect(try ClientMessage(frame: delete(1)) == .delete(id: "x", expectedVersion: 5))
        #expect(throws: ProtocolError.invalidValue(field: "expectedVersion", reason: "boolean byte must be 0 or 1, got 2")) {
            try ClientMessage(frame: delete(2))
        }

        // QUERY: filter of four optionals (all absent) then limit and offset; a 2 in any presence byte fails.
        for position in 0..<4 {
            var p = ByteBuffer()
            for index in 0..<4 { p.writeInteger(UInt8(index == position ? 2 : 0)) }
            p.writeInteger(UInt32(10))
            p.writeInteger(UInt32(0))
            #expect(throws: ProtocolError.self, "presence byte \(position) of the filter") {
                try ClientMessage(frame: Frame(type: MessageType.query.rawValue, requestID: 1, payload: p))
            }
        }
    }
}
