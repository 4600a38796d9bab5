import EpilogueStoreClient
import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct MetricsTests {
    private func fetch(_ url: String) async throws -> String {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return String(decoding: data, as: UTF8.self)
    }

    @Test func storeServesPrometheusMetricsOnItsOwnPort() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let port = try await freePort(), metricsPort = try await freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path("epilogue-store"))
        process.arguments = ["--port", "\(port)", "--metrics-port", "\(metricsPort)", "--data-dir", dir, "--log-level", "error"]
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        var pinged = false
        for _ in 0..<200 where !pinged {
            if case .success = await StoreProbe.ping(host: "127.0.0.1", port: port, secret: nil, timeout: .milliseconds(200)) { pinged = true } else {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        #expect(pinged)
        let text = try await fetch("http://127.0.0.1:\(metricsPort)/metrics")
        #expect(text.contains(#"epilogue_store_requests_total{type="ping"}"#))
        #expect(text.contains("epilogue_store_request_duration_seconds_bucket"))
        #expect(text.contains("epilogue_store_records 46"))
    }

    @Test func gatewayServesPrometheusMetricsOnItsOwnPort() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let storePort = try await freePort()
        let store = try StoreProcess(directory: dir, port: storePort)
        defer { store.stop() }
        try await store.waitUntilServing()
        let port = try await freePort(), metricsPort = try await freePort()
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: try BuiltProducts.path("epilogue-gateway"))
        gateway.arguments = ["--port", "\(port)", "--store", "127.0.0.1:\(storePort)", "--metrics-port", "\(metricsPort)", "--log-level", "error"]
        try gateway.run()
        defer { gateway.terminate(); gateway.waitUntilExit() }
        var reply = TextReply(lines: [])
        for _ in 0..<200 where !reply.isOK {
            reply = (try? await withTextClient(port: port) { try await $0.command("GET missing") }).map { _ in TextReply(lines: ["OK"]) } ?? reply
            if !reply.isOK { try await Task.sleep(for: .milliseconds(25)) }
        }
        let text = try await fetch("http://127.0.0.1:\(metricsPort)/metrics")
        #expect(text.contains(#"epilogue_gateway_commands_total{command="GET"}"#))
        #expect(text.contains(#"epilogue_gateway_errors_total{code="NOT_FOUND"}"#) || text.contains(#"epilogue_gateway_errors_total{code="STORE_UNAVAILABLE"}"#))
    }
}
