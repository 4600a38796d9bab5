import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

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
