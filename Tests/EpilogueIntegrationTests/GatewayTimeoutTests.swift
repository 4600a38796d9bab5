import EpilogueTestSupport
import Foundation
import Testing
@testable import EpilogueGateway

/// The gateway's line and idle timeouts, timed against a real socket. In the timed phase
/// (scripts/lib/timed-suites.sh): with ninety suites sharing two cores, a connection's first
/// command could be read only after its 2 s idle timeout had already closed it.
@Suite(.timeLimit(.minutes(2))) struct GatewayTimeoutTests {
    /// The idle timeout (30 s) is far longer than the line timeout (300 ms): a close near the line
    /// timeout can only come from the line timeout.
    @Test(.timeLimit(.minutes(1)))
    func clientThatNeverFinishesItsLineIsDroppedAtTheLineTimeout() async throws {
        try await withStack(idleTimeout: .seconds(30), lineTimeout: .milliseconds(300)) { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                // Timed from before the send: the server's clock starts when it reads the bytes, later.
                let start = ContinuousClock.now
                try await c.send("GET half-a-li")
                let closed = await c.isClosedByServer()
                let elapsed = ContinuousClock.now - start
                #expect(closed)
                #expect(elapsed >= .milliseconds(250), "closed after \(elapsed), before the 300 ms line timeout")
                #expect(elapsed < .seconds(15), "closed after \(elapsed): not the 300 ms line timeout (the idle timeout is 30 s)")
            }
        }
    }

    /// Idle timeout 2 s (300 ms was short enough for a loaded machine to close the connection
    /// before its first command was read): served first, closed once idle, not before.
    @Test func idleClientIsDroppedAfterTheIdleTimeout() async throws {
        try await withStack(idleTimeout: .seconds(2)) { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                // Timed from before the PING: the idle clock restarts when the server reads it, later
                // (and its answer may take a while to arrive on a loaded machine).
                let start = ContinuousClock.now
                #expect(try await c.command("PING").isOK)
                #expect(await c.isClosedByServer())
                let elapsed = ContinuousClock.now - start
                #expect(elapsed >= .milliseconds(1_950), "closed \(elapsed) after the PING was sent, before the 2 s idle timeout")
                #expect(elapsed < .seconds(20), "closed only \(elapsed) after the PING was sent")
            }
        }
    }
}
