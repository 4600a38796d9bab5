import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import Logging
import NIOCore
import Testing
@testable import EpilogueGateway
@testable import EpilogueStore
@testable import EpilogueStoreClient

/// The gateway's record cache against a real store (PROTOCOL.md "Tracking"): two gateways with
/// caches in front of one store; no read through one may stay stale once the other's write was
/// acknowledged and its push arrived.
@Suite(.timeLimit(.minutes(2))) struct GatewayRecordCacheTests {
    private static let cacheBytes = 4 << 20

    private static func put(_ id: String, reading: String) -> String {
        #"PUT \#(id) film="La La Land" year=2016 director="Damien Chazelle" subject=epilogue reading="\#(reading)" source=s sourceKind=critic"#
    }

    private static func version(_ reply: TextReply) -> String? {
        reply.body.first { $0.hasPrefix("version:") }?.split(separator: " ").last.map(String.init)
    }

    /// Writes a record and waits for its push to reach `cache`, so a later push cannot drop what
    /// the test reads into the cache next.
    private static func write(_ line: String, through client: TextTestClient, seenBy cache: SharedRecordCache) async throws {
        let pushes = cache.pushesApplied
        let reply = try await client.command(line)
        #expect(reply.isOK, "\(reply)")
        await cache.pushApplied(after: pushes)
    }

    /// A precondition (the tracking connection's handshake), not the property under test.
    private static func eventually(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw Timeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct Timeout: Error { var what: String }

    /// Two caching gateways on one store, each with a connected text client.
    private static func withTwoGateways(
        _ body: @Sendable (_ a: TextTestClient, _ cacheA: SharedRecordCache, _ b: TextTestClient) async throws -> Void
    ) async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { storePort, _ in
            try await withGateway(storePort: storePort, cacheBytes: cacheBytes) { portA, gatewayA in
                try await withGateway(storePort: storePort, cacheBytes: cacheBytes) { portB, gatewayB in
                    let cacheA = try #require(gatewayA.store.cache)
                    let cacheB = try #require(gatewayB.store.cache)
                    try await eventually("both caches serving") { cacheA.isServing && cacheB.isServing }
                    try await withTextClient(port: portA) { a in
                        try await withTextClient(port: portB) { b in try await body(a, cacheA, b) }
                    }
                }
            }
        }
    }

    @Test func aWriteThroughOneGatewayIsSeenThroughTheOtherOnceItsPushArrived() async throws {
        try await Self.withTwoGateways { a, cacheA, b in
            try await Self.write(Self.put("x", reading: "first"), through: b, seenBy: cacheA)
            #expect(Self.version(try await a.command("GET x")) == "1")
            #expect(Self.version(try await a.command("GET x")) == "1")
            #expect(cacheA.lookups.hits == 1 && cacheA.count == 1)  // the second GET never left gateway A

            let pushes = cacheA.pushesApplied
            #expect(try await b.command(Self.put("x", reading: "second")).status == "OK x version 2")
            // The push left the store before B's acknowledgement; once A has read it, A is current.
            await cacheA.pushApplied(after: pushes)
            let after = try await a.command("GET x")
            #expect(Self.version(after) == "2")
            #expect(after.body.contains { $0.contains("second") })
        }
    }

    @Test func aDeleteThroughOneGatewayIsSeenThroughTheOtherOnceItsPushArrived() async throws {
        try await Self.withTwoGateways { a, cacheA, b in
            try await Self.write(Self.put("gone", reading: "soon"), through: b, seenBy: cacheA)
            #expect(try await a.command("GET gone").isOK)
            #expect(try await a.command("GET gone").isOK)
            #expect(cacheA.count == 1)
            let pushes = cacheA.pushesApplied
            let deleted = try await b.command("DEL gone")
            #expect(deleted.status == "OK gone deleted (was version 1)")
            await cacheA.pushApplied(after: pushes)
            let after = try await a.command("GET gone")
            #expect(after.errorCode == "NOT_FOUND")
        }
    }

    /// The writing gateway does not wait for the push: its own writes are visible at once, even
    /// to a GET pipelined right behind the PUT.
    @Test func theWritingGatewayReadsItsOwnWritesWithoutWaitingForThePush() async throws {
        try await Self.withTwoGateways { a, cacheA, _ in
            try await Self.write(Self.put("mine", reading: "one"), through: a, seenBy: cacheA)
            #expect(Self.version(try await a.command("GET mine")) == "1")
            #expect(Self.version(try await a.command("GET mine")) == "1")
            try await a.send(Self.put("mine", reading: "two") + "\nGET mine\n")
            #expect(try await a.readReply().status == "OK mine version 2")
            #expect(Self.version(try await a.readReply()) == "2")
            #expect(cacheA.lookups.hits == 1)
        }
    }

    /// Pushes sent while the tracking connection is down are lost: the cache must not answer from
    /// what it held before. With the store gone, a GET through the gateway fails instead.
    @Test func losingTheStoreConnectionFlushesTheCache() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        defer { store.close() }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = StoreServer(configuration: .init(host: "127.0.0.1", port: 0), store: store, logger: TestSupport.logger,
                                 onListening: { continuation.yield($0.port ?? 0) })
        let serving = Task { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        let storePort = try #require(await iterator.next())
        try await withGateway(storePort: storePort, cacheBytes: Self.cacheBytes) { port, gateway in
            let cache = try #require(gateway.store.cache)
            try await Self.eventually("cache serving") { cache.isServing }
            try await withTextClient(port: port) { c in
                try await Self.write(Self.put("kept", reading: "r"), through: c, seenBy: cache)
                #expect(try await c.command("GET kept").isOK)
                #expect(try await c.command("GET kept").isOK)
                #expect(cache.count == 1)
                serving.cancel()
                _ = try? await serving.value
                try await Self.eventually("cache flushed") { !cache.isServing }
                #expect(cache.count == 0)
                #expect(try await c.command("GET kept").errorCode == "STORE_UNAVAILABLE")
            }
        }
    }

    /// A link that goes silent without closing (a frozen store, packets dropped): gateway A reaches
    /// the store through a proxy that then holds every byte, while gateway B writes directly. A may
    /// answer from its cache only within the lease after the last frame it read, so every stale
    /// answer was asked for before freeze + lease; without the lease it would keep answering from
    /// its cache until the connection closed (never, for a GET that never reaches the store).
    @Test func aSilentLinkStopsServingFromTheCacheWithinTheLease() async throws {
        let work = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(work) }
        let proxyScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests-support/delayproxy.py").path
        let delayFile = work + "/delay-ms", proxyPortFile = work + "/proxy-port"
        try "0".write(toFile: delayFile, atomically: true, encoding: .utf8)
        let lease = StoreClient.Configuration.defaultCacheLease
        try await withStoreServer(directory: work + "/store") { storePort, _ in
            let proxy = try ChildProcess.launch(["/usr/bin/python3", proxyScript, "127.0.0.1", "0", "127.0.0.1", "\(storePort)",
                                                 delayFile, proxyPortFile])
            defer { ChildProcess.stop(proxy) }
            let proxyPort = try await ChildProcess.port(fromFile: proxyPortFile, of: proxy)
            // A request timeout well past the lease: the unanswered PING cannot be what stops the hits.
            try await withGateway(storePort: proxyPort, requestTimeout: .seconds(5), cacheBytes: Self.cacheBytes) { portA, gatewayA in
                try await withGateway(storePort: storePort) { portB, _ in
                    let cacheA = try #require(gatewayA.store.cache)
                    try await Self.eventually("cache serving") { cacheA.isServing }
                    try await withTextClient(port: portA) { a in
                        try await withTextClient(port: portB) { b in
                            try await Self.write(Self.put("held", reading: "old"), through: b, seenBy: cacheA)
                            #expect(try await a.command("GET held").isOK)
                            #expect(try await a.command("GET held").body.contains { $0.contains("old") })
                            #expect(cacheA.lookups.hits == 1)

                            try "60000".write(toFile: delayFile, atomically: true, encoding: .utf8)
                            let frozenAt = ContinuousClock.now
                            #expect(try await b.command(Self.put("held", reading: "new")).isOK)
                            var staleAskedAt: [Duration] = []
                            var last = TextReply(lines: [])
                            while ContinuousClock.now < frozenAt + .seconds(15) {
                                let askedAt = ContinuousClock.now - frozenAt
                                last = try await a.command("GET held")
                                guard last.isOK, last.body.contains(where: { $0.contains("old") }) else { break }
                                staleAskedAt.append(askedAt)
                                try await Task.sleep(for: .milliseconds(50))
                            }
                            // Served at or after it was asked, and the lease ran out at most `lease` after the
                            // last frame through the proxy. That frame can pass shortly after `frozenAt`: the
                            // proxy reads its delay per chunk, and a chunk it read just before may still be
                            // forwarded (CI under load: a stale answer asked 2.07 s after the freeze, lease 2 s).
                            let proxySlack = Duration.milliseconds(500)
                            #expect(staleAskedAt.allSatisfy { $0 < .nanoseconds(lease.nanoseconds) + proxySlack },
                                    "stale answers asked for at \(staleAskedAt)")
                            #expect(last.errorCode == "TIMEOUT" || last.errorCode == "STORE_UNAVAILABLE", "\(last)")

                            try "0".write(toFile: delayFile, atomically: true, encoding: .utf8)
                            var fresh = TextReply(lines: [])
                            while ContinuousClock.now < frozenAt + .seconds(30) {
                                fresh = try await a.command("GET held")
                                if fresh.isOK { break }
                                try await Task.sleep(for: .milliseconds(100))
                            }
                            #expect(fresh.body.contains { $0.contains("new") }, "\(fresh)")
                        }
                    }
                }
            }
        }
    }

    @Test func cacheMbZeroRunsWithoutACacheAndWithoutTracking() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { c in
                let stats = try await c.command("STATS")
                #expect(stats.body.contains { $0.hasPrefix("gateway_cache ") && $0.hasSuffix("disabled") })
            }
        }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { storePort, _ in
            try await withGateway(storePort: storePort, cacheBytes: 0) { _, gateway in
                #expect(gateway.store.cache == nil)
                #expect(gateway.store.cacheFigures == nil)
            }
        }
    }

    /// `--cache-mb` bounds the records kept: reading more than fits evicts the oldest.
    @Test func theCacheStaysWithinItsByteBudget() async throws {
        let budget = 64 * 1024
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { storePort, _ in
            try await withGateway(storePort: storePort, cacheBytes: budget) { port, gateway in
                let cache = try #require(gateway.store.cache)
                try await Self.eventually("cache serving") { cache.isServing }
                try await withTextClient(port: port) { c in
                    let reading = String(repeating: "a long reading ", count: 100)
                    for i in 0..<100 {
                        let written = try await c.command(Self.put("big/\(i)", reading: reading))
                        #expect(written.isOK)
                    }
                    for i in 0..<100 {
                        let read = try await c.command("GET big/\(i)")
                        #expect(read.isOK)
                    }
                }
                #expect(cache.bytes <= budget)
                #expect(cache.count > 0 && cache.count < 100)
            }
        }
    }
}
