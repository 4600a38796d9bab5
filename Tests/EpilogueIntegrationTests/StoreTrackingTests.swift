import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Testing

/// The store's side of PROTOCOL.md "Tracking" over real connections: TRACK, the INVALIDATE
/// pushes every write sends to every tracking connection, and their order against the answer.
@Suite struct StoreTrackingTests {
    private static func withTrackingStore(_ body: @Sendable (Int) async throws -> Void) async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in try await body(port) }
    }

    private static func track(_ client: WireTestClient, _ mode: TrackingMode, id: UInt32) async throws {
        try await client.send(.track(mode), id: id)
        let answer = try await client.receive()
        #expect(answer.message == .tracking(mode) && answer.requestID == id)
    }

    /// On one connection the push is queued before the writer's answer, so it arrives first.
    @Test func aTrackingWritersPushArrivesBeforeItsOwnAnswer() async throws {
        try await Self.withTrackingStore { port in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await Self.track(client, .broadcast, id: 1)
                try await client.send(.put(id: "x", content: TestSupport.content(), expectedVersion: nil), id: 2)
                let push = try await client.receive()
                #expect(push.message == .invalidate(ids: ["x"]) && push.requestID == 0)
                let answer = try await client.receive()
                #expect(answer.requestID == 2)
                guard case .written = answer.message else { Issue.record("expected WRITTEN, got \(answer.message)"); return }
            }
        }
    }

    @Test func everyKindOfWriteIsPushedToAnotherTrackingConnection() async throws {
        try await Self.withTrackingStore { port in
            try await withWireClient(port: port) { watcher in
                try await watcher.handshake()
                try await Self.track(watcher, .broadcast, id: 1)
                try await withWireClient(port: port) { writer in
                    try await writer.handshake()
                    let content = TestSupport.content()
                    try await writer.send(.put(id: "a", content: content, expectedVersion: nil), id: 1)
                    _ = try await writer.receive()
                    #expect(try await watcher.receive().message == .invalidate(ids: ["a"]))
                    try await writer.send(.delete(id: "a", expectedVersion: nil), id: 2)
                    _ = try await writer.receive()
                    #expect(try await watcher.receive().message == .invalidate(ids: ["a"]))
                    let items = ["b", "c"].enumerated().map { ImportItem(line: UInt32($0.offset + 1), id: $0.element, content: content) }
                    try await writer.send(.import(.replace, items), id: 3)
                    _ = try await writer.receive()
                    #expect(try await watcher.receive().message == .invalidate(ids: ["b", "c"]))
                    // A refused write changed nothing: no push.
                    try await writer.send(.delete(id: "never", expectedVersion: nil), id: 4)
                    #expect(try await writer.receive().message.errorCode == .notFound)
                    try await watcher.send(.ping(.init(string: "after")), id: 2)
                    #expect(try await watcher.receive().message == .pong(.init(string: "after")))
                }
            }
        }
    }

    @Test func trackOffStopsThePushes() async throws {
        try await Self.withTrackingStore { port in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await Self.track(client, .broadcast, id: 1)
                try await Self.track(client, .off, id: 2)
                try await client.send(.put(id: "x", content: TestSupport.content(), expectedVersion: nil), id: 3)
                let answer = try await client.receive()
                #expect(answer.requestID == 3)
                guard case .written = answer.message else { Issue.record("expected WRITTEN, got \(answer.message)"); return }
            }
        }
    }
}
