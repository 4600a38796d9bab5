import Foundation
import NIOCore
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Network faults between the gateway's host and the store's (network namespaces as in
/// TwoHostTests): a silent partition and random loss with nftables in the store's namespace, and
/// added delay through a userspace proxy. Requests end in the right answer, ERR TIMEOUT or
/// ERR STORE_UNAVAILABLE within the configured bound — never a wrong answer — and the gateway
/// recovers when the network heals.
@Suite(.serialized) struct NetworkFaultTests {
    /// Request timeout given to the gateway; connect/handshake timeout is 2 s.
    static let requestTimeoutMs = 500
    /// No answer may take longer than this while the network misbehaves.
    static let answerBound: Double = 3.5

    @Test(.timeLimit(.minutes(3)))
    func partitionLossAndDelayGiveBoundedErrorsAndNoWrongAnswers() async throws {
        guard let network = try? TwoHostNetwork.make() else {
            note("NetworkFaultTests: network namespaces unavailable (not root); partition and loss need nftables in a namespace, so only the delay proxy runs, on loopback")
            try await delayScenario(storeHost: "127.0.0.1", gatewayPrefix: [], gatewayHost: "127.0.0.1", gatewayListen: "127.0.0.1")
            return
        }
        defer { network.tearDown() }
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try ChildProcess.launch(["ip", "netns", "exec", network.storeNamespace, try BuiltProducts.path("epilogue-store"), "--host", network.storeAddress,
                                "--port", "7701", "--data-dir", dir, "--metrics-port", "0", "--no-dataset", "--log-level", "error"])
        defer { ChildProcess.stop(store) }
        let gateway = try ChildProcess.launch(["ip", "netns", "exec", network.gatewayNamespace, try BuiltProducts.path("epilogue-gateway"), "--host", "0.0.0.0",
                                  "--port", "7700", "--store", "\(network.storeAddress):7701", "--metrics-port", "0",
                                  "--request-timeout-ms", "\(Self.requestTimeoutMs)", "--log-level", "error"])
        defer { ChildProcess.stop(gateway) }
        let host = network.gatewayAddress
        try await waitForOK(host: host, port: 7700)
        for i in 0..<20 {
            let put = try await command(#"PUT nf/\#(i) film=F year=2000 director=D subject=s reading="record \#(i)" source=x sourceKind=critic"#, host: host, port: 7700)
            #expect(put.reply.isOK)
        }

        // 1. Silent partition: the store's host drops everything for the store port.
        try network.nft(["add", "table", "inet", "epi"])
        try network.nft(["add", "chain", "inet", "epi", "input", "{ type filter hook input priority 0; }"])
        try network.nft(["add", "rule", "inet", "epi", "input", "tcp", "dport", "7701", "drop"])
        var codes = Set<String>()
        for i in 0..<8 {
            let (reply, seconds) = try await command("GET nf/\(i)", host: host, port: 7700)
            #expect(seconds < Self.answerBound, "answer took \(seconds) s during the partition")
            #expect(reply.errorCode == "TIMEOUT" || reply.errorCode == "STORE_UNAVAILABLE", "during partition: \(reply)")
            codes.insert(reply.errorCode ?? "OK")
        }
        #expect(codes.contains("STORE_UNAVAILABLE"), "a partition should end in STORE_UNAVAILABLE once the dead connections are dropped")
        try network.nft(["flush", "ruleset"])
        try await waitForOK(host: host, port: 7700)

        // 2. 30 % random packet loss: slow, maybe failing, never wrong.
        try network.nft(["add", "table", "inet", "epi"])
        try network.nft(["add", "chain", "inet", "epi", "input", "{ type filter hook input priority 0; }"])
        try network.nft(["add", "rule", "inet", "epi", "input", "tcp", "dport", "7701", "numgen", "random", "mod", "100", "<", "30", "drop"])
        var good = 0
        for i in 0..<20 {
            let (reply, seconds) = try await command("GET nf/\(i)", host: host, port: 7700)
            #expect(seconds < Self.answerBound, "answer took \(seconds) s under loss")
            if reply.isOK {
                #expect(reply.status == "OK nf/\(i)" && reply.body.contains("reading:     record \(i)"), "wrong answer under loss: \(reply)")
                good += 1
            } else {
                #expect(reply.errorCode == "TIMEOUT" || reply.errorCode == "STORE_UNAVAILABLE", "under loss: \(reply)")
            }
        }
        note("NetworkFaultTests: under 30 % loss \(good)/20 GETs answered correctly, the rest timed out or found the store unavailable")
        try network.nft(["flush", "ruleset"])
        try await waitForOK(host: host, port: 7700)
        let healed = try await command("GET nf/7", host: host, port: 7700)
        #expect(healed.reply.status == "OK nf/7")

        // 3. Delay, through a proxy on the gateway's side.
        note("NetworkFaultTests: partition and loss done")
        ChildProcess.stop(gateway)
        try await delayScenario(storeHost: network.storeAddress, gatewayPrefix: ["ip", "netns", "exec", network.gatewayNamespace],
                                gatewayHost: host, gatewayListen: "0.0.0.0", proxyNamespace: network.gatewayNamespace)
    }

    /// A gateway whose store link goes through a delaying proxy: under the request timeout answers
    /// are right; over it they are ERR TIMEOUT within the bound.
    private func delayScenario(storeHost: String, gatewayPrefix: [String], gatewayHost: String, gatewayListen: String,
                               proxyNamespace: String? = nil) async throws {
        var ownStore: Process?
        var storePort = 7701
        if proxyNamespace == nil {
            let dir = TestSupport.temporaryDirectory()
            storePort = try await freePort()
            ownStore = try ChildProcess.launch([try BuiltProducts.path("epilogue-store"), "--port", "\(storePort)", "--data-dir", dir, "--metrics-port", "0", "--log-level", "error"])
        }
        defer { if let ownStore { ChildProcess.stop(ownStore) } }
        let proxyPort = 17_801, gatewayPort = proxyNamespace == nil ? try await freePort() : 7702
        let proxyScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tests-support/delayproxy.py").path
        let delayFile = TestSupport.temporaryDirectory() + "/delay-ms"
        try "200".write(toFile: delayFile, atomically: true, encoding: .utf8)
        let proxy = try ChildProcess.launch((proxyNamespace.map { ["ip", "netns", "exec", $0] } ?? []) +
                               ["/usr/bin/python3", proxyScript, "127.0.0.1", "\(proxyPort)", storeHost, "\(storePort)", delayFile])
        defer { ChildProcess.stop(proxy) }
        let gateway = try ChildProcess.launch(gatewayPrefix + [try BuiltProducts.path("epilogue-gateway"), "--host", gatewayListen, "--port", "\(gatewayPort)",
                                                  "--store", "127.0.0.1:\(proxyPort)", "--metrics-port", "0",
                                                  "--request-timeout-ms", "\(Self.requestTimeoutMs)", "--log-level", "error"])
        defer { ChildProcess.stop(gateway) }
        note("NetworkFaultTests: delay scenario, gateway pid \(gateway.processIdentifier) running=\(gateway.isRunning) at \(gatewayHost):\(gatewayPort)")
        try await waitForOK(host: gatewayHost, port: gatewayPort)
        // 200 ms each way is under the 500 ms timeout: correct answers.
        let slow = try await command("PING", host: gatewayHost, port: gatewayPort)
        #expect(slow.reply.status == "OK PONG")
        #expect(slow.seconds >= 0.2, "the proxy did not delay (\(slow.seconds) s)")
        // 1 s each way is over it: ERR TIMEOUT, within the bound, never a late answer to a later request.
        try "1000".write(toFile: delayFile, atomically: true, encoding: .utf8)
        for _ in 0..<3 {
            let (reply, seconds) = try await command("PING", host: gatewayHost, port: gatewayPort)
            #expect(reply.errorCode == "TIMEOUT" || reply.errorCode == "STORE_UNAVAILABLE", "with 1 s delay: \(reply)")
            #expect(seconds < Self.answerBound)
        }
        try "0".write(toFile: delayFile, atomically: true, encoding: .utf8)
        try await waitForOK(host: gatewayHost, port: gatewayPort)
        note("NetworkFaultTests: delay proxy — 200 ms answered correctly in \(String(format: "%.2f", slow.seconds)) s; 1 s gave TIMEOUT/STORE_UNAVAILABLE; recovered at 0 ms")
    }

    private func command(_ line: String, host: String, port: Int) async throws -> (reply: TextReply, seconds: Double) {
        let start = ContinuousClock.now
        let reply = try await withTextClient(port: port, host: host) { try await $0.command(line) }
        let elapsed = ContinuousClock.now - start
        return (reply, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    private func waitForOK(host: String, port: Int) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while clock.now < deadline {
            if let reply = try? await command("PING", host: host, port: port), reply.reply.isOK { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("gateway at \(host):\(port) did not answer PING with OK within 20 s")
    }

}

extension TwoHostNetwork {
    func nft(_ arguments: [String]) throws {
        try run(["ip", "netns", "exec", storeNamespace, "nft"] + arguments)
    }
}

/// Progress lines on stderr, which is not buffered when swift test's output is piped.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
