import EpilogueStorage
import EpilogueStore
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite(.timeLimit(.minutes(2))) struct MetricsTests {
    private func fetch(_ url: String) async throws -> String {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return String(decoding: data, as: UTF8.self)
    }

    /// The metrics port must be given (0 turns the endpoint off), so it is picked free by the test
    /// and may be taken by another process before the child binds it: then the child exits and
    /// is started again on another one (bounded). The service port itself is the child's own pick.
    private func startWithMetrics(_ start: (Int) async throws -> ServiceProcess) async throws -> ServiceProcess {
        var lastError: (any Error)?
        for _ in 0..<5 {
            do {
                let child = try await start(try await Self.unusedPort())
                if child.metricsPort != nil { return child }
            } catch let error as ServiceProcess.StartFailed {
                lastError = error
            }
        }
        throw lastError ?? ServiceProcess.StartFailed(kind: .store, status: nil, log: "no metrics_port reported")
    }

    static func unusedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    @Test func storeServesPrometheusMetricsOnItsOwnPort() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        Unprivileged.grant(dir)
        let store = try await startWithMetrics { metricsPort in
            try await ServiceProcess(.store, arguments: ["--metrics-port", "\(metricsPort)", "--data-dir", dir, "--log-level", "error"])
        }
        defer { store.stop() }
        var pinged = false
        for _ in 0..<200 where !pinged {
            if case .success = await StoreProbe.ping(host: "127.0.0.1", port: store.port, secret: nil, timeout: .milliseconds(200)) { pinged = true } else {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        #expect(pinged)
        let text = try await fetch("http://127.0.0.1:\(try #require(store.metricsPort))/metrics")
        #expect(text.contains(#"epilogue_store_requests_total{type="ping"}"#))
        #expect(text.contains("epilogue_store_request_duration_seconds_bucket"))
        #expect(text.contains("epilogue_store_records \(try BundledDataset.load().count)"))
    }

    @Test func gatewayServesPrometheusMetricsOnItsOwnPort() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await StoreProcess(directory: dir)
        defer { store.stop() }
        try await store.waitUntilServing()
        let gateway = try await startWithMetrics { metricsPort in
            try await startGateway(store: "127.0.0.1:\(store.port)", arguments: ["--metrics-port", "\(metricsPort)"])
        }
        defer { gateway.stop() }
        // A GET of a missing record, once the gateway reaches the store: NOT_FOUND, nothing else.
        var reply = TextReply(lines: [])
        for _ in 0..<200 where reply.errorCode != "NOT_FOUND" {
            reply = (try? await withTextClient(port: gateway.port) { try await $0.command("GET missing") }) ?? reply
            if reply.errorCode != "NOT_FOUND" { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(reply.errorCode == "NOT_FOUND", "GET of a missing record: \(reply)")
        let text = try await fetch("http://127.0.0.1:\(try #require(gateway.metricsPort))/metrics")
        #expect(text.contains(#"epilogue_gateway_commands_total{command="GET"}"#))
        #expect(text.contains(#"epilogue_gateway_errors_total{code="NOT_FOUND"}"#))
    }
}
