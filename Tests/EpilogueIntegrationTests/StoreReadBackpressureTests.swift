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

/// The store's read gate (StoreConnectionHandler): it stops reading while `maximumInFlightWrites`
/// writes wait for the disk or while the client does not read its answers, and reads again after.
@Suite(.timeLimit(.minutes(1))) struct StoreReadBackpressureTests {

    private func channel(store: RecordStore, maximumInFlightWrites: Int) async throws -> (NIOAsyncTestingChannel, ReadCounter) {
        let channel = NIOAsyncTestingChannel()
        let counter = ReadCounter()
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandler(counter)
            try channel.pipeline.syncOperations.addHandler(StoreConnectionHandler(
                machine: StoreConnectionStateMachine(secret: nil, maximumInFlightWrites: maximumInFlightWrites),
                requests: StoreRequestHandler(store: store), metrics: StoreMetrics(), logger: TestSupport.logger))
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        try await channel.writeInbound(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        _ = try await channel.waitForOutboundWrite(as: Frame.self)
        try await channel.writeInbound(ClientMessage.authenticate(proof: []).frame(requestID: 0))
        _ = try await channel.waitForOutboundWrite(as: Frame.self)
        return (channel, counter)
    }

    @Test func readsWaitWhileTheInFlightWriteLimitIsReachedAndResumeWhenAWriteIsAnswered() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        defer { store.close() }
        let (channel, counter) = try await channel(store: store, maximumInFlightWrites: 2)
        // In one loop task, so neither write can be answered before the reads are tried.
        let readsWhileFull = try await channel.testingEventLoop.executeInContext {
            let before = counter.reads
            channel.pipeline.fireChannelRead(ClientMessage.put(id: "bp/1", content: TestSupport.content(), expectedVersion: nil).frame(requestID: 1))
            channel.read()
            let afterOne = counter.reads - before
            channel.pipeline.fireChannelRead(ClientMessage.put(id: "bp/2", content: TestSupport.content(), expectedVersion: nil).frame(requestID: 2))
            channel.read()
            channel.read()
            return (afterOne, counter.reads - before)
        }
        #expect(readsWhileFull.0 == 1, "one write in flight of 2 allowed: reading goes on")
        #expect(readsWhileFull.1 == 1, "two in flight: reads are held")
        // The first answer frees a place: the held read is issued.
        _ = try await channel.waitForOutboundWrite(as: Frame.self)
        for _ in 0..<200 where try await channel.testingEventLoop.executeInContext({ counter.reads }) < 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try await channel.testingEventLoop.executeInContext { counter.reads } >= 2)
        _ = try await channel.waitForOutboundWrite(as: Frame.self)
    }

    @Test func readsWaitWhileTheClientDoesNotReadItsAnswers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        let (channel, counter) = try await channel(store: store, maximumInFlightWrites: 256)
        let counts = try await channel.testingEventLoop.executeInContext {
            let before = counter.reads
            channel.read()
            let writable = counter.reads - before
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
            channel.read()
            let blocked = counter.reads - before
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
            return (writable, blocked, counter.reads - before)
        }
        #expect(counts.0 == 1)
        #expect(counts.1 == 1, "no read while the client does not take its answers")
        #expect(counts.2 == 2, "the held read is issued once it is writable again")
    }
}
