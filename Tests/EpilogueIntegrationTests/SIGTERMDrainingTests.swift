import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// SIGTERM to the real executables (docs/PROTOCOL.md "Graceful shutdown", docs/OPERATIONS.md):
/// what `StoreDrainingTests` checks in-process, here through the signal handler of each binary.
@Suite(.timeLimit(.minutes(2))) struct SIGTERMDrainingTests {
    @Test func storeOnSIGTERMAnswersOrRefusesWhatItReadsExitsAndKeepsEveryAcknowledgedWrite() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await StoreProcess(directory: dir)
        defer { store.stop() }
        try await store.waitUntilServing()

        let outcome = try await DrainOutcome.writesThroughADrain(port: store.port, prefix: "term") {
            store.service.signal(SIGTERM)
        }
        print("SIGTERMDrainingTests: store answered \(outcome.written.count) writes and refused \(outcome.refused.count) with SHUTTING_DOWN before closing")
        // It exits by itself (bounded), without being killed.
        for _ in 0..<300 where store.service.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!store.service.isRunning, "the store did not exit within 15 s of SIGTERM; its log:\n\(store.service.log.suffix(2_000))")

        try await outcome.expectKept(in: dir, when: "at SIGTERM")
    }

    /// The gateway on SIGTERM answers the commands it has read (their store answers arrive after
    /// the signal), refuses a line that arrives meanwhile with SHUTTING_DOWN, and then closes the
    /// connection and exits.
    @Test func gatewayOnSIGTERMAnswersTheCommandsItReadThenClosesAndExits() async throws {
        let heldStore = try await HeldStore()
        defer { heldStore.close() }
        let gateway = try await ServiceProcess(.gateway, arguments: ["--store", "127.0.0.1:\(heldStore.port)", "--metrics-port", "0",
                                                                     "--store-connections", "1", "--log-level", "error",
                                                                     // The held store answers nothing until released; a slow machine
                                                                     // must not time the warm-up PING out (a timeout drops the link
                                                                     // and fails every request pending on it).
                                                                     "--request-timeout-ms", "120000"])
        defer { gateway.stop() }
        // Until its pool has completed a handshake with the held store.
        for _ in 0..<600 where heldStore.requestsReceived == 0 {
            _ = try? await withTextClient(port: gateway.port) { c in try await c.send("PING\n") }
            try await Task.sleep(for: .milliseconds(50))
            if heldStore.requestsReceived > 0 { break }
        }
        let before = heldStore.requestsReceived
        #expect(before > 0, "the gateway never reached the held store; its log:\n\(gateway.log.suffix(2_000))")
        try await withTextClient(port: gateway.port) { c in
            try await c.send("PING\nPING\nPING\n")
            for _ in 0..<400 where heldStore.requestsReceived < before + 3 { try await Task.sleep(for: .milliseconds(25)) }
            #expect(heldStore.requestsReceived == before + 3)
            gateway.signal(SIGTERM)
            // Once the listener is closed the connections are being drained: a line sent now is
            // not run, and is told so (docs/TEXT_PROTOCOL.md "Shutdown").
            for _ in 0..<200 {
                guard (try? await withTextClient(port: gateway.port) { _ in }) != nil else { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            try await Task.sleep(for: .milliseconds(200))
            try await c.send("PING\n")
            try await Task.sleep(for: .milliseconds(100))
            heldStore.release()
            for n in 0..<3 {
                let reply = try await c.readReply()
                #expect(reply.status == "OK PONG", "reply \(n) after SIGTERM: \(reply)")
            }
            let late = try await c.readReply()
            #expect(late.status == "ERR SHUTTING_DOWN the gateway is shutting down; retry once it is back")
            #expect(heldStore.requestsReceived == before + 3, "the late PING was not sent to the store")
            #expect(await c.isClosedByServer())
        }
        for _ in 0..<300 where gateway.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!gateway.isRunning, "the gateway did not exit within 15 s of SIGTERM; its log:\n\(gateway.log.suffix(2_000))")
    }
}
