import EpilogueProtocol
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import ServiceLifecycle
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// What a client that pipelines PUTs into a draining store saw: every request answered at most
/// once, each either written (with its version) or refused with SHUTTING_DOWN.
struct DrainOutcome: Sendable {
    var written: [String: UInt64] = [:]
    var refused: Set<String> = []

    /// Sends PUTs 1...300 on one connection, calls `shutDown` once 20 are acknowledged, keeps
    /// sending 301...600 while the store drains, and reads answers until the store closes.
    static func writesThroughADrain(port: Int, prefix: String, shutDown: @Sendable () async -> Void) async throws -> DrainOutcome {
        try await withWireClient(port: port) { client in
            try await client.handshake()
            func put(_ n: Int) -> ClientMessage {
                .put(id: "\(prefix)/\(n)", content: TestSupport.content(reading: "write \(n)"), expectedVersion: nil)
            }
            var outcome = DrainOutcome()
            var seen: Set<UInt32> = []
            func take(_ answer: (message: ServerMessage, requestID: UInt32, flags: FrameFlags)) {
                #expect(seen.insert(answer.requestID).inserted, "request \(answer.requestID) answered twice")
                let name = "\(prefix)/\(answer.requestID)"
                switch answer.message {
                case .written(let id, let version, _):
                    #expect(id == name)
                    outcome.written[id] = version
                case .error(.shuttingDown, _):
                    outcome.refused.insert(name)
                default:
                    Issue.record("unexpected answer while draining: \(answer.message)")
                }
            }
            for n in 1...300 { try await client.send(put(n), id: UInt32(n)) }
            // Shut down once the store is busy with them: 20 acknowledged, more in flight.
            while outcome.written.count < 20 { take(try await client.receive()) }
            await shutDown()
            // More requests keep coming while it drains.
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
            return outcome
        }
    }

    /// Reopens the data directory: every acknowledged write is there at its version, and nothing
    /// refused with SHUTTING_DOWN was written.
    func expectKept(in directory: String, when: String) async throws {
        let reopened = try await TestSupport.openStore(directory, fsync: .never)
        defer { reopened.close() }
        #expect(reopened.recovery.discardedBytes == 0, "a graceful stop left a torn log tail")
        for (id, version) in written {
            #expect(reopened.record(id: id)?.version == version, "acknowledged \(id) lost \(when)")
        }
        for id in refused {
            #expect(reopened.record(id: id) == nil, "\(id) was refused with SHUTTING_DOWN yet written")
        }
    }
}
