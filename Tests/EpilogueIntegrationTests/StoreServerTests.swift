import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite(.timeLimit(.minutes(2))) struct StoreServerTests {
    // Timed (a 3 s idle timeout against a slow reader): in the timed phase, see scripts/lib/timed-suites.sh.
    @Test func aStreamLongerThanTheIdleTimeoutIsNotCutOffWhileItsAnswerStillGoesOut() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        // 3 s, not 1: the reader's pauses (250 ms) plus event loops busy with the suites beside
        // this one (the abuse suites' 2,000 clients) left more than 1 s between two frames going
        // out, which is idle by the rule under test (CI as nobody, 2026-11-30).
        try await withStoreServer(directory: dir, idleTimeout: .seconds(3)) { port, store in
            // ~18 MB that barely compresses: more than loopback's socket buffers hold, so the
            // store is still writing while the client reads slowly, sending nothing, for seconds.
            var generator = SplitMix64(seed: 18)
            for batch in 0..<20 {
                let items = (batch * 20..<(batch + 1) * 20).map { n in
                    let bytes = (0..<5_600).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } }
                    return ImportItem(line: UInt32(n), id: "export/\(String(format: "%04d", n))", content: TestSupport.content(reading: Data(bytes).base64EncodedString()))
                }
                _ = try await withCheckedContinuation { c in store.importBatch(items, existing: .replace) { c.resume(returning: $0) } }.get()
            }
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.export(RecordFilter()), id: 3)
                let started = ContinuousClock.now
                var records = 0
                while true {
                    let frame = try await client.receive()
                    guard frame.flags.contains(.streamContinues) else {
                        #expect(frame.message == .resultEnd(returned: 400, total: 400))
                        break
                    }
                    records += 1
                    if records % 8 == 0 { try await Task.sleep(for: .milliseconds(250)) }
                }
                #expect(records == 400)
                #expect(ContinuousClock.now - started > .seconds(6), "the stream outlasted the idle timeout")
            }
        }
    }

    @Test func pipelinedRequestsAreAnsweredByRequestIDAndReadsOvertakeWrites() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            _ = try await store.put(id: "seed", content: TestSupport.content(reading: "seeded"), expectedVersion: nil)
            try await withWireClient(port: port) { client in
                #expect(try await client.handshake() == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1])))
                // 20 writes and 20 reads, interleaved, all sent before reading anything.
                for i in 0..<20 {
                    try await client.send(.put(id: "p\(i)", content: TestSupport.content(reading: "write \(i)"), expectedVersion: nil), id: UInt32(100 + i))
                    try await client.send(.get(id: "seed"), id: UInt32(200 + i))
                }
                var order: [UInt32] = []
                var answers: [UInt32: ServerMessage] = [:]
                for _ in 0..<40 {
                    let (message, id, _) = try await client.receive()
                    order.append(id)
                    answers[id] = message
                }
                #expect(answers.count == 40)
                for i in 0..<20 {
                    guard case .written(let id, let version, _) = answers[UInt32(100 + i)] else { Issue.record("no WRITTEN for \(i)"); continue }
                    #expect(id == "p\(i)")
                    #expect(version == 1)
                    guard case .record(let record) = answers[UInt32(200 + i)] else { Issue.record("no RECORD for \(i)"); continue }
                    #expect(record.id == "seed")
                }
                // Reads do not wait for fsync, so answers arrive in a different order than requests.
                let requestOrder = (0..<20).flatMap { [UInt32(100 + $0), UInt32(200 + $0)] }
                #expect(order != requestOrder)
            }
        }
    }

    @Test func recordsTravelCompressedToClientsThatKnowTheDictionaryAndPlainToOthers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
            for dictionaries: [UInt32] in [[CompressionDictionary.current.id], []] {
                try await withWireClient(port: port) { client in
                    try await client.handshake(dictionaries: dictionaries)
                    try await client.send(.get(id: "a"), id: 1)
                    guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                    let body: [UInt8]
                    if dictionaries.isEmpty {
                        #expect(record.encoding == .plain)
                        body = Array(buffer: record.body)
                    } else {
                        #expect(record.encoding == .zlib)
                        body = try BodyCompression.decompress(Array(buffer: record.body), dictionaryID: record.dictionaryID)
                    }
                    #expect(try RecordBody.content(of: body) == TestSupport.content())
                }
            }
        }
    }

    @Test func everyRequestKindIsServed() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.ping(ByteBuffer(string: "x")), id: 1)
                #expect(try await client.receive().message == .pong(ByteBuffer(string: "x")))
                try await client.send(.put(id: "a", content: TestSupport.content(reading: "dreams and love"), expectedVersion: 0), id: 2)
                guard case .written("a", 1, _) = try await client.receive().message else { Issue.record("put"); return }
                try await client.send(.put(id: "a", content: TestSupport.content(), expectedVersion: 0), id: 3)
                guard case .error(.conflict, _) = try await client.receive().message else { Issue.record("cas"); return }
                try await client.send(.put(id: "b", content: TestSupport.content(film: "A Real Pain"), expectedVersion: nil), id: 4)
                _ = try await client.receive()
                try await client.send(.query(RecordFilter(film: "A Real Pain"), limit: 10, offset: 0), id: 5)
                let stream = try await client.receiveStream()
                #expect(stream.count == 2)
                #expect(stream.last == .resultEnd(returned: 1, total: 1))
                try await client.send(.search(text: "dreams", RecordFilter(), limit: 5), id: 6)
                let hits = try await client.receiveStream()
                guard case .hit(let hit) = hits.first else { Issue.record("no hit: \(hits)"); return }
                #expect(hit.id == "a")
                #expect(hit.snippet.contains("[dreams]"))
                try await client.send(.listFilms, id: 7)
                guard case .films(let films) = try await client.receive().message else { Issue.record("films"); return }
                #expect(films.map(\.film) == ["A Real Pain", "La La Land"])
                try await client.send(.listThemes(film: nil), id: 8)
                #expect(try await client.receive().message == .themes([ThemeCount(theme: "what-if", records: 2)]))
                try await client.send(.stats, id: 9)
                guard case .stats(let stats) = try await client.receive().message else { Issue.record("stats"); return }
                #expect(stats.first { $0.name == "records" }?.value == 2)
                #expect(stats.first { $0.name == "connections" }?.value == 1)
                try await client.send(.delete(id: "a", expectedVersion: 1), id: 10)
                #expect(try await client.receive().message == .deleted(id: "a", version: 1))
                try await client.send(.get(id: "a"), id: 11)
                guard case .error(.notFound, _) = try await client.receive().message else { Issue.record("get after delete"); return }
                try await client.send(.query(RecordFilter(), limit: 0, offset: 0), id: 12)
                guard case .error(.badRequest, _) = try await client.receive().message else { Issue.record("limit 0"); return }
            }
        }
    }

    @Test func sharedSecretIsRequiredWhenConfigured() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir, secret: "s3cret") { port, _ in
            try await withWireClient(port: port) { client in
                guard case .error(.unauthorized, _) = try await client.handshake(secret: nil) else { Issue.record("no secret accepted"); return }
                #expect(await client.receivesEndOfStream())
            }
            try await withWireClient(port: port) { client in
                guard case .error(.unauthorized, _) = try await client.handshake(secret: "wrong") else { Issue.record("wrong secret accepted"); return }
            }
            try await withWireClient(port: port) { client in
                let answer = try await client.handshake(secret: "s3cret")
                #expect(answer == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1])))
            }
        }
    }

    @Test func unsupportedVersionIsAnsweredThenClosed() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                guard case .versionUnsupported([1], _) = try await client.handshake(versions: [9]) else { Issue.record("v9 accepted"); return }
                #expect(await client.receivesEndOfStream())
            }
        }
    }

    @Test func connectionsOverTheLimitGetBusy() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir, maximumConnections: 1) { port, _ in
            try await withWireClient(port: port) { first in
                try await first.handshake()
                try await withWireClient(port: port) { second in
                    // At accept, before (and without) HELLO: request id 0, then close.
                    let (message, id, _) = try await second.receive()
                    guard case .error(.busy, _) = message else { Issue.record("second connection served"); return }
                    #expect(id == 0)
                    #expect(await second.receivesEndOfStream())
                }
                try await first.send(.ping(ByteBuffer()), id: 1)
                #expect(try await first.receive().message == .pong(ByteBuffer()))
            }
        }
    }

    @Test func idleConnectionIsClosed() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir, idleTimeout: .seconds(2)) { port, _ in
            try await withWireClient(port: port) { client in
                let connected = ContinuousClock.now
                do {
                    _ = try await client.handshake()
                } catch {
                    // On a loaded machine the gap between the handshake's frames can outlast the
                    // timeout: the server then closes mid-handshake, which is the idle timeout
                    // too, but never sooner than it.
                    let after = ContinuousClock.now - connected
                    #expect(after >= .seconds(2), "closed \(after) after connecting, before the idle timeout: \(error)")
                    return
                }
                #expect(await client.receivesEndOfStream())
            }
        }
    }
}
