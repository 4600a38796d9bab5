import EpilogueProtocol
import EpilogueModel
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

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
