import EpilogueProtocol
import EpilogueModel
import Foundation
import NIOCore
import Testing
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

/// Over a real connection: which request id an ERROR frame carries.
@Suite(.timeLimit(.minutes(1))) struct ErrorFrameRequestIDTests {
    @Test func refusalOfAWellFormedRequestCarriesItsRequestIDAndTheConnectionGoesOn() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.get(id: "no/such-id"), id: 77)
                let (missing, id, _) = try await client.receive()
                guard case .error(let code, _) = missing else { Issue.record("expected ERROR, got \(missing)"); return }
                #expect(code == .notFound)
                #expect(id == 77)
                try await client.send(.query(RecordFilter(), limit: 0, offset: 0), id: 0xFFFF_FFFE)
                let (badLimit, badID, _) = try await client.receive()
                guard case .error(let badCode, _) = badLimit else { Issue.record("expected ERROR, got \(badLimit)"); return }
                #expect(badCode == .badRequest)
                #expect(badID == 0xFFFF_FFFE)
                try await client.send(.ping(ByteBuffer(string: "still")), id: 78)
                let (pong, pongID, _) = try await client.receive()
                #expect(pong == .pong(ByteBuffer(string: "still")))
                #expect(pongID == 78)
            }
        }
    }

    /// Frames that split but do not decode: the ERROR names their id; the connection is closed.
    @Test(arguments: [
        ("STREAM_CONTINUES on a request", MessageType.ping.rawValue, FrameFlags.streamContinues, [0, 0, 0, 0] as [UInt8]),
        ("optional byte 2", MessageType.listThemes.rawValue, FrameFlags(), [2]),
        ("bytes left over", MessageType.listFilms.rawValue, FrameFlags(), [0]),
    ])
    func decodingErrorCarriesTheRequestIDOfTheFrame(_ what: String, _ type: UInt8, _ flags: FrameFlags, _ payload: [UInt8]) async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.channel.writeAndFlush(Frame(type: type, flags: flags, requestID: 4242, payload: ByteBuffer(bytes: payload)))
                let (message, id, _) = try await client.receive()
                guard case .error(let code, _) = message else { Issue.record("\(what): expected ERROR, got \(message)"); return }
                #expect(code == .protocolViolation, "\(what)")
                #expect(id == 4242, "\(what)")
                #expect(await client.receivesEndOfStream(), "\(what): the connection is closed")
            }
        }
    }

    /// A length the decoder refuses (over the maximum) never reaches the request id: ERROR with id 0.
    @Test func frameRefusedBeforeItsHeaderIsReadGetsRequestIDZero() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                // 2 MiB declared (over the 1 MiB maximum), request id 99 in the bytes that follow.
                var raw = ByteBuffer()
                raw.writeInteger(UInt32(2 << 20))
                raw.writeInteger(MessageType.ping.rawValue)
                raw.writeInteger(UInt8(0))
                raw.writeInteger(UInt32(99))
                let channel = client.channel
                let bytes = raw
                try await channel.eventLoop.submit {
                    // Below the frame encoder: these bytes go out as they are.
                    let encoder = try channel.pipeline.syncOperations.context(handlerType: MessageToByteHandler<FrameEncoder>.self)
                    encoder.writeAndFlush(NIOAny(bytes), promise: nil)
                }.get()
                let (message, id, _) = try await client.receive()
                guard case .error(let code, _) = message else { Issue.record("expected ERROR, got \(message)"); return }
                #expect(code == .tooLarge)
                #expect(id == 0)
            }
        }
    }
}

/// QUERY's cap (docs/PROTOCOL.md "the store caps limit at 1,000"), over a real connection.
@Suite(.timeLimit(.minutes(2))) struct QueryLimitCapTests {
    @Test func queryReturnsAtMostOneThousandRecordsAndCountsTheRest() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        // 1,003 records, written without fsync (the server reopens the directory).
        let store = try await TestSupport.openStore(dir, fsync: .never)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<1_003 {
                group.addTask {
                    _ = try await store.put(id: String(format: "cap/%05d", n), content: TestSupport.content(), expectedVersion: nil)
                }
            }
            try await group.waitForAll()
        }
        store.close()
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                for (limit, offset, expected) in [(UInt32.max, UInt32(0), 1_000), (5_000, 0, 1_000), (1_000, 0, 1_000), (999, 0, 999),
                                                  (5_000, 2, 1_000), (5_000, 10, 993)] {
                    try await client.send(.query(RecordFilter(film: "La La Land"), limit: limit, offset: offset), id: 5)
                    let stream = try await client.receiveStream()
                    let records = stream.compactMap { if case .record(let r) = $0 { return r.id } else { return nil } }
                    #expect(records.count == expected, "limit \(limit) offset \(offset)")
                    #expect(records.first == String(format: "cap/%05d", Int(offset)), "limit \(limit) offset \(offset)")
                    #expect(stream.last == .resultEnd(returned: UInt32(expected), total: 1_003), "limit \(limit) offset \(offset)")
                }
            }
        }
    }
}
