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

/// Graceful shutdown of the store (what SIGTERM triggers through ServiceLifecycle, see
/// Sources/epilogue-store/StoreCommand.swift): writes in flight are answered, requests arriving meanwhile
/// get ERROR SHUTTING_DOWN (docs/PROTOCOL.md "Graceful shutdown"), then the connection closes.
@Suite(.timeLimit(.minutes(1))) struct StoreDrainingTests {
    private func putFrame(_ id: String, requestID: UInt32) -> Frame {
        ClientMessage.put(id: id, content: TestSupport.content(), expectedVersion: nil).frame(requestID: requestID)
    }

    /// A store connection handler on a testing channel, past its handshake.
    private func readyChannel(store: RecordStore) async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(StoreConnectionHandler(
                machine: StoreConnectionStateMachine(secret: nil), requests: StoreRequestHandler(store: store), metrics: StoreMetrics(),
                logger: TestSupport.logger))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        try await channel.writeInbound(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        _ = try await channel.waitForOutboundWrite(as: Frame.self)
        try await channel.writeInbound(ClientMessage.authenticate(proof: []).frame(requestID: 0))
        let ready = try await channel.waitForOutboundWrite(as: Frame.self)
        guard case .ready = try ServerMessage(frame: ready) else { throw Unexpected(frame: ready) }
        return channel
    }

    struct Unexpected: Error { var frame: Frame }

    @Test func requestArrivingWhileAWriteIsInFlightGetsShuttingDownAndTheWriteIsStillAnswered() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        defer { store.close() }
        let channel = try await readyChannel(store: store)
        let put = putFrame("drain/in-flight", requestID: 1)
        let ping = ClientMessage.ping(ByteBuffer(string: "late")).frame(requestID: 2)
        // In one loop task: the PUT's completion (from the fsync thread) can only run after it, so
        // the PUT is certainly in flight when the drain starts and the PING arrives.
        try await channel.testingEventLoop.executeInContext {
            channel.pipeline.fireChannelRead(put)
            channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
            channel.pipeline.fireChannelRead(ping)
            channel.pipeline.fireChannelReadComplete()
        }
        let first = try await channel.waitForOutboundWrite(as: Frame.self)
        #expect(first.requestID == 2)
        guard case .error(let code, let message) = try ServerMessage(frame: first) else {
            Issue.record("expected ERROR SHUTTING_DOWN for the request that arrived while draining, got \(try ServerMessage(frame: first))")
            return
        }
        #expect(code == .shuttingDown)
        #expect(message.contains("shutting down"))
        let second = try await channel.waitForOutboundWrite(as: Frame.self)
        #expect(second.requestID == 1)
        guard case .written(let id, let version, _) = try ServerMessage(frame: second) else {
            Issue.record("the write in flight was not answered: \(try ServerMessage(frame: second))")
            return
        }
        #expect(id == "drain/in-flight" && version == 1)
        try await channel.closeFuture.get()
        #expect(store.record(id: "drain/in-flight") != nil)
    }

    @Test func drainWithNothingInFlightClosesAtOnce() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        defer { store.close() }
        let channel = try await readyChannel(store: store)
        try await channel.testingEventLoop.executeInContext {
            channel.pipeline.fireUserInboundEventTriggered(DrainConnection())
        }
        try await channel.closeFuture.get()
        #expect(try await channel.readOutbound(as: Frame.self) == nil)
    }

    /// Over TCP, with the store and the server in a ServiceGroup as `epilogue-store` runs them (the
    /// store listed first, so it stops last and closes itself), graceful shutdown triggered
    /// (SIGTERM's path) while a client pipelines writes: every answer is WRITTEN or SHUTTING_DOWN,
    /// each request is answered at most once, the connection then closes, the group ends, and
    /// exactly the WRITTEN ids are in the reopened store.
    @Test func gracefulShutdownAnswersOrRefusesEveryRequestItReadsAndLosesNoAcknowledgedWrite() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = StoreServer(configuration: .init(host: "127.0.0.1", port: 0), store: store, logger: TestSupport.logger,
                                 onListening: { continuation.yield($0.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [store, server], logger: TestSupport.logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let outcome = try await DrainOutcome.writesThroughADrain(port: port, prefix: "drain") {
            await group.triggerGracefulShutdown()
        }
        try await running.value
        print("StoreDrainingTests: \(outcome.written.count) written, \(outcome.refused.count) refused with SHUTTING_DOWN, "
              + "the rest of 600 unread at close")
        #expect(outcome.written.count >= 20)

        try await outcome.expectKept(in: dir, when: "at shutdown")
    }
}
