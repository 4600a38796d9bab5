import EpilogueProtocol
import EpilogueTestSupport
import NIOCore
import NIOPosix
import Testing
@testable import EpilogueStoreClient

/// Which event loop each store connection lives on: the slots are spread over the group's loops
/// (slot i on loop i mod n), and a caller that prefers its own loop gets a connection on it, so
/// a gateway connection's store requests and their answers never hop threads.
@Suite(.timeLimit(.minutes(1))) struct StorePoolLoopTests {
    @Test func connectionsAreSpreadOverTheLoopsAndACallerGetsOneOnItsOwnLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        do {
            try await check(group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    private func check(_ group: MultiThreadedEventLoopGroup) async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let loops = Array(group.makeIterator())
        try await withStoreServer(directory: dir) { port, _ in
            let pool = StorePool(configuration: .init(host: "127.0.0.1", port: port, connections: 5, requestTimeout: .seconds(30)),
                                 clientName: "test", inflater: RecordInflater(), group: group, logger: TestSupport.logger)
            // Another user of the group (the gateway's listener shares its loops) moved its
            // round-robin cursor: the slots must still land one per loop in turn.
            _ = group.next()
            pool.start()
            defer { pool.shutdown() }
            let deadline = ContinuousClock.now + .seconds(10)
            while pool.readyLoops.contains(where: { $0 == nil }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let ready = pool.readyLoops.compactMap { $0 }
            try #require(ready.count == 5)
            // Slot i on loop i mod 3: two, two and one connections.
            for (slot, loop) in ready.enumerated() {
                #expect(loop === loops[slot % loops.count], "slot \(slot)")
            }
            for loop in loops {
                for _ in 0..<4 {
                    let lane = try #require(pool.lane(preferring: loop))
                    #expect(ready[lane] === loop)
                }
                let answer = pool.send(.ping(ByteBuffer()), preferring: loop)
                #expect(answer.eventLoop === loop)
                _ = try await answer.get()
            }
        }
    }
}
