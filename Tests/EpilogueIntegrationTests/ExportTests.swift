import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore
@testable import EpilogueStoreClient

@Suite struct ExportTests {
    private static func id(_ n: Int) -> String { "export/\(String(format: "%04d", n))" }

    @Test func exportStreamsEveryRecordInIdOrderAsOfTheMomentItIsServed() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            // Written out of id order; more than one chunk of the stream.
            for n in (0..<300).reversed() {
                _ = try await store.put(id: Self.id(n), content: TestSupport.content(reading: "reading \(n)"), expectedVersion: nil)
            }
            _ = try await store.put(id: Self.id(7), content: TestSupport.content(reading: "reading 7, again"), expectedVersion: nil)
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.export(RecordFilter()), id: 9)
                var messages = [try await client.receive()]
                // The snapshot is taken: writes from here on are not in it.
                _ = try await store.put(id: Self.id(300), content: TestSupport.content(), expectedVersion: nil)
                _ = try await store.delete(id: Self.id(5), expectedVersion: nil)
                _ = try await store.put(id: Self.id(6), content: TestSupport.content(reading: "changed"), expectedVersion: nil)
                while messages.last!.flags.contains(.streamContinues) { messages.append(try await client.receive()) }
                #expect(messages.allSatisfy { $0.requestID == 9 })
                #expect(messages.last?.message == .resultEnd(returned: 300, total: 300))
                let records = messages.dropLast().compactMap { if case .record(let r) = $0.message { return r } else { return nil } }
                #expect(records.map(\.id) == (0..<300).map(Self.id))
                #expect(records.first { $0.id == Self.id(7) }?.version == 2)
                let six = try RecordInflater().record(from: records[6])
                #expect(six.content.reading == "reading 6")
                // The connection serves other requests afterwards.
                try await client.send(.get(id: Self.id(5)), id: 10)
                guard case .error(.notFound, _) = try await client.receive().message else { Issue.record("expected NOT_FOUND"); return }
            }
        }
    }

    @Test func exportFiltersLikeFind() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        _ = try await store.put(id: "b", content: TestSupport.content(film: "A Real Pain"), expectedVersion: nil)
        _ = try await store.put(id: "a", content: TestSupport.content(film: "A Real Pain", kind: .director), expectedVersion: nil)
        _ = try await store.put(id: "c", content: TestSupport.content(), expectedVersion: nil)
        let handler = StoreRequestHandler(store: store)
        let frames = try handler.respondToRead(.export(RecordFilter(film: "A Real Pain")), requestID: 1, clientDictionaries: [])
        let messages = try frames.map(ServerMessage.init(frame:))
        #expect(messages.compactMap { if case .record(let r) = $0 { return r.id } else { return nil } } == ["a", "b"])
        #expect(messages.last == .resultEnd(returned: 2, total: 2))
        let directors = try handler.respondToRead(.export(RecordFilter(film: "A Real Pain", sourceKind: .director)), requestID: 2, clientDictionaries: [])
        #expect(directors.count == 2)
    }

    @Test func textExportAnswersOneJSONObjectPerLineMatchingFormatJSON() async throws {
        try await withStack { port, store in
            for n in 0..<5 {
                _ = try await store.put(id: Self.id(n), content: TestSupport.content(film: n.isMultiple(of: 2) ? "La La Land" : "A Real Pain",
                                                                                   reading: "line one\nline \"two\" \(n)"), expectedVersion: nil)
            }
            try await withTextClient(port: port) { client in
                let all = try await client.command("EXPORT")
                #expect(all.lines.first == "OK \(GatewayConnectionHandler.exportSummary)")
                #expect(all.lines.count == 6)
                _ = try await client.command("FORMAT json")
                for (n, line) in all.lines.dropFirst().enumerated() {
                    let get = try await client.command("GET \(Self.id(n))")
                    #expect(get.lines.dropFirst().first == line)
                }
                let filtered = try await client.command("EXPORT film=\"A Real Pain\"")
                #expect(filtered.lines.count == 3)
                #expect(filtered.lines.dropFirst().allSatisfy { $0.contains("\"film\":\"A Real Pain\"") })
                let bad = try await client.command("EXPORT limit=3")
                #expect(bad.lines.first?.hasPrefix("ERR BAD_REQUEST") == true)
            }
        }
    }
}
