import EpilogueProtocol
import EpilogueShared
import Foundation
import NIOCore
import Testing
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

        let outcome: (written: [String: UInt64], refused: Set<String>) = try await withWireClient(port: store.port) { client in
            try await client.handshake()
            func put(_ n: Int) -> ClientMessage {
                .put(id: "term/\(n)", content: TestSupport.content(reading: "write \(n)"), expectedVersion: nil)
            }
            var written: [String: UInt64] = [:]
            var refused: Set<String> = []
            var seen: Set<UInt32> = []
            func take(_ answer: (message: ServerMessage, requestID: UInt32, flags: FrameFlags)) {
                #expect(seen.insert(answer.requestID).inserted, "request \(answer.requestID) answered twice")
                switch answer.message {
                case .written(let id, let version, _):
                    #expect(id == "term/\(answer.requestID)")
                    written[id] = version
                case .error(.shuttingDown, _):
                    refused.insert("term/\(answer.requestID)")
                default:
                    Issue.record("unexpected answer while draining: \(answer.message)")
                }
            }
            for n in 1...300 { try await client.send(put(n), id: UInt32(n)) }
            while written.count < 20 { take(try await client.receive()) }
            store.service.signal(SIGTERM)
            let sender = Task {
                for n in 301...600 {
                    do { try await client.send(put(n), id: UInt32(n)) } catch { break }
                }
            }
            while true {
                let answer: (message: ServerMessage, requestID: UInt32, flags: FrameFlags)
                do { answer = try await client.receive() } catch { break }
                take(answer)
            }
            await sender.value
            return (written, refused)
        }
        print("SIGTERMDrainingTests: store answered \(outcome.written.count) writes and refused \(outcome.refused.count) with SHUTTING_DOWN before closing")
        // It exits by itself (bounded), without being killed.
        for _ in 0..<300 where store.service.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!store.service.isRunning, "the store did not exit within 15 s of SIGTERM; its log:\n\(store.service.log.suffix(2_000))")

        let reopened = try await TestSupport.openStore(dir, fsync: .never)
        defer { reopened.close() }
        #expect(reopened.recovery.discardedBytes == 0, "a graceful stop left a torn log tail")
        for (id, version) in outcome.written {
            #expect(reopened.record(id: id)?.version == version, "acknowledged \(id) lost at SIGTERM")
        }
        for id in outcome.refused {
            #expect(reopened.record(id: id) == nil, "\(id) was refused with SHUTTING_DOWN yet written")
        }
    }

    /// The gateway on SIGTERM answers the commands it has read (their store answers arrive after
    /// the signal) and then closes the connection and exits.
    @Test func gatewayOnSIGTERMAnswersTheCommandsItReadThenClosesAndExits() async throws {
        let heldStore = try await HeldStore()
        defer { heldStore.close() }
        let gateway = try await ServiceProcess(.gateway, arguments: ["--store", "127.0.0.1:\(heldStore.port)", "--metrics-port", "0",
                                                                     "--store-connections", "1", "--log-level", "error"])
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
            try await Task.sleep(for: .milliseconds(300))
            heldStore.release()
            for n in 0..<3 {
                let reply = try await c.readReply()
                #expect(reply.status == "OK PONG", "reply \(n) after SIGTERM: \(reply)")
            }
            #expect(await c.isClosedByServer())
        }
        for _ in 0..<300 where gateway.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!gateway.isRunning, "the gateway did not exit within 15 s of SIGTERM; its log:\n\(gateway.log.suffix(2_000))")
    }
}
