import EpilogueProtocol
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import ServiceLifecycle
import Testing
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

    /// Over TCP, with the server in a ServiceGroup whose graceful shutdown is triggered (SIGTERM's
    /// path) while a client pipelines writes: every answer is WRITTEN or SHUTTING_DOWN, each request
    /// is answered at most once, the connection then closes, and exactly the WRITTEN ids are in the
    /// reopened store.
    @Test func gracefulShutdownAnswersOrRefusesEveryRequestItReadsAndLosesNoAcknowledgedWrite() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .always)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let server = StoreServer(configuration: .init(host: "127.0.0.1", port: 0), store: store, logger: TestSupport.logger,
                                 onListening: { continuation.yield($0.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: TestSupport.logger))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let outcome = try await DrainOutcome.writesThroughADrain(port: port, prefix: "drain") {
            await group.triggerGracefulShutdown()
        }
        try await running.value
        store.close()
        print("StoreDrainingTests: \(outcome.written.count) written, \(outcome.refused.count) refused with SHUTTING_DOWN, "
              + "the rest of 600 unread at close")
        #expect(outcome.written.count >= 20)

        try await outcome.expectKept(in: dir, when: "at shutdown")
    }
}

/// The store's read gate (StoreConnectionHandler): it stops reading while `maximumInFlightWrites`
/// writes wait for the disk or while the client does not read its answers, and reads again after.
@Suite(.timeLimit(.minutes(1))) struct StoreReadBackpressureTests {
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

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
