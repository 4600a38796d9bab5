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

@Suite(.timeLimit(.minutes(1))) struct GatewayPipeliningLimitTests {
    /// docs/TEXT_PROTOCOL.md: "Up to 128 commands of one connection may be waiting for replies;
    /// beyond that … the gateway stops reading from that connection until it catches up."
    @Test func atMost128CommandsOfOneConnectionWaitForTheStoreAndTheRestAreServedOnceItAnswers() async throws {
        let store = try await HeldStore()
        defer { store.close() }
        try await withGateway(storePort: store.port, requestTimeout: .seconds(30)) { port, _ in
            try await withTextClient(port: port) { c in
                try await c.send(String(repeating: "PING\n", count: 300))
                // The gateway reads ahead until 128 commands wait; poll until the count stops moving.
                var last = -1
                for _ in 0..<100 {
                    try await Task.sleep(for: .milliseconds(30))
                    let now = store.requestsReceived
                    if now == last && now > 0 { break }
                    last = now
                }
                try await Task.sleep(for: .milliseconds(200))
                #expect(store.requestsReceived == 128, "requests the gateway sent on while none was answered")
                // Answer; it reads on, 128 at a time, until all 300 are served, in order.
                store.release()
                var replies = 0
                while replies < 300 {
                    let reply = try await c.readReply()
                    #expect(reply.status == "OK PONG", "reply \(replies)")
                    replies += 1
                }
                #expect(store.requestsReceived == 300)
            }
        }
    }
}
