import EpilogueShared
import EpilogueTestSupport
import Foundation
import Testing
/// The store and the gateway as separate processes on separate network hosts: two network
/// namespaces joined by a veth pair, plus a second pair from this test's namespace to the
/// gateway's, so the test drives the gateway over real TCP. The store's link is cut and restored.
/// Creating namespaces needs root (the test's name says so; without it the test is skipped with
/// that reason); the services themselves run unprivileged inside them. The loopback test beside
/// it cuts the store off with SIGSTOP instead, and runs everywhere.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TwoHostTests {
    @Test(.requires(.root, .networkNamespaces))
    func asRootInNetworkNamespacesGatewayOnAnotherHostSeesTheStoreLinkGoAndComeBack() async throws {
        try Prerequisite.check(.root, .networkNamespaces)
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let network = try TwoHostNetwork.make()
        defer { network.tearDown() }
        note("TwoHostTests: store in netns \(network.storeNamespace) at \(network.storeAddress), gateway in netns \(network.gatewayNamespace)")
        try await runScenario(
            dir: dir,
            storePrefix: ["ip", "netns", "exec", network.storeNamespace],
            storeHost: network.storeAddress,
            gatewayPrefix: ["ip", "netns", "exec", network.gatewayNamespace],
            gatewayListen: "0.0.0.0",
            gatewayReach: network.gatewayAddress,
            cut: { _ in try network.setStoreLink(up: false) },
            restore: { _ in try network.setStoreLink(up: true) })
    }

    @Test func gatewayOnLoopbackSeesAStoppedStoreGoAndComeBack() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await runScenario(
            dir: dir, storePrefix: [], storeHost: "127.0.0.1", gatewayPrefix: [], gatewayListen: "127.0.0.1",
            gatewayReach: "127.0.0.1",
            cut: { $0.service.signal(SIGSTOP) },
            restore: { $0.service.signal(SIGCONT) })
    }

    private func runScenario(
        dir: String, storePrefix: [String], storeHost: String, gatewayPrefix: [String], gatewayListen: String,
        gatewayReach: String, cut: (StoreProcess) throws -> Void, restore: (StoreProcess) throws -> Void
    ) async throws {
        let store = try await StoreProcess(directory: dir, prefix: storePrefix, host: storeHost)
        defer { store.stop() }
        let gateway = try await ServiceProcess(.gateway, host: gatewayListen,
                                               arguments: ["--store", "\(storeHost):\(store.port)", "--metrics-port", "0",
                                                           "--request-timeout-ms", "500", "--log-level", "error",
                                                           // A record cache, so that the cut also shows the cache's lease at work.
                                                           "--cache-mb", "8"],
                                               prefix: gatewayPrefix)
        defer { gateway.stop() }
        let gatewayPort = gateway.port

        let clock = ContinuousClock()
        var reply = TextReply(lines: [])
        // 1. Serving across the link.
        let up = clock.now + .seconds(15)
        while clock.now < up {
            reply = (try? await oneCommand("PING", host: gatewayReach, port: gatewayPort)) ?? reply
            if reply.isOK { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(reply.status == "OK PONG", "gateway never reached the store: \(reply); gateway stderr: \(gateway.log)")
        let put = try await oneCommand(#"PUT two/1 film=F year=2000 director=D subject=s reading="across hosts" source=x sourceKind=critic"#,
                                       host: gatewayReach, port: gatewayPort)
        #expect(put.isOK, "\(put)")
        // Read it once after the write's answer, so the caching gateway holds it when the link is cut.
        let read = try await oneCommand("GET two/1", host: gatewayReach, port: gatewayPort)
        #expect(read.status == "OK two/1", "\(read)")

        // 2. Cut the link: answers turn into STORE_UNAVAILABLE (a TIMEOUT may come first), promptly.
        try cut(store)
        let cutAt = clock.now
        var sawUnavailable = false
        while clock.now < cutAt + .seconds(20) {
            reply = try await oneCommand("GET two/1", host: gatewayReach, port: gatewayPort)
            #expect(!reply.isOK || reply.status == "OK two/1")
            if reply.errorCode == "STORE_UNAVAILABLE" { sawUnavailable = true; break }
            #expect(reply.errorCode == "TIMEOUT" || reply.isOK, "unexpected answer while cut: \(reply)")
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sawUnavailable, "no STORE_UNAVAILABLE within 20 s of the cut; last: \(reply)")
        let unavailable = try await timed { try await oneCommand("GET two/1", host: gatewayReach, port: gatewayPort) }
        #expect(unavailable.reply.errorCode == "STORE_UNAVAILABLE")
        #expect(unavailable.seconds < 1.0, "STORE_UNAVAILABLE should be prompt, took \(unavailable.seconds) s")

        // 3. Restore it: the gateway recovers by itself.
        try restore(store)
        let back = clock.now + .seconds(20)
        while clock.now < back {
            reply = try await oneCommand("GET two/1", host: gatewayReach, port: gatewayPort)
            if reply.isOK { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(reply.status == "OK two/1", "gateway did not recover after the link came back: \(reply)")
        #expect(reply.body.contains("reading:     across hosts"))
    }

    private func oneCommand(_ line: String, host: String, port: Int) async throws -> TextReply {
        try await withTextClient(port: port, host: host) { client in try await client.command(line) }
    }

    private func timed(_ body: () async throws -> TextReply) async throws -> (reply: TextReply, seconds: Double) {
        let start = ContinuousClock.now
        let reply = try await body()
        let elapsed = ContinuousClock.now - start
        return (reply, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

}
