import EpilogueCompression
import EpilogueModel
import EpilogueProtocol
import EpilogueShared
import EpilogueTestSupport
import Foundation
import ServiceLifecycle
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// `RecordStore` as a ServiceLifecycle service: maintenance runs while it runs, and graceful
/// shutdown closes it.
@Suite(.timeLimit(.minutes(2))) struct RecordStoreServiceTests {
    /// A reading zlib cannot shrink much (letters from a fixed pseudo-random sequence), so
    /// replacing it leaves tens of kilobytes of dead log each time.
    static func incompressibleReading(seed: UInt64) -> String {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        var letters: [Character] = []
        for i in 0..<60_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            letters.append(i % 7 == 6 ? " " : Character(Unicode.Scalar(UInt8(97 + (state >> 33) % 26))))
        }
        return String(letters)
    }

    @Test func aRunningStoreCompactsOnItsOwnAndGracefulShutdownSavesTheIndexSnapshot() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await RecordStore(configuration: .init(dataDirectory: dir, fsync: .never, loadBundledDataset: false,
                                                               dictionaryTraining: nil), logger: TestSupport.logger)
        let group = ServiceGroup(configuration: .init(services: [store], logger: TestSupport.logger))
        let running = Task { try await group.run() }
        // Each replacement leaves its predecessor dead: past 1 MiB and half the log, a compaction is due.
        for round in 0..<48 {
            _ = try await store.put(id: "big", content: TestSupport.content(reading: Self.incompressibleReading(seed: UInt64(round))),
                                    expectedVersion: nil)
        }
        // The job runs on the store's task group, not on this task: wait for it (no rate assumed).
        let deadline = ContinuousClock.now + .seconds(90)
        while store.figures().compactions == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(store.figures().compactions >= 1)
        let big = try store.get(id: "big")
        #expect(big.version == 48 && big.content.reading == Self.incompressibleReading(seed: 47))
        // A write after the compaction's snapshot: only closing the store saves one that covers it.
        _ = try await store.put(id: "small", content: TestSupport.content(), expectedVersion: nil)
        await group.triggerGracefulShutdown()
        try await running.value
        let snapshot = try #require(IndexSnapshot.load(from: dir))
        #expect(snapshot.logSize == store.figures().logBytes)
        #expect(Set(snapshot.documents.map(\.id)) == ["big", "small"])
    }

    @Test func cancellingTheRunClosesTheStoreToo() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir)
        _ = try await store.put(id: "a", content: TestSupport.content(), expectedVersion: nil)
        let running = Task { try await store.run() }
        running.cancel()
        try await running.value
        #expect(IndexSnapshot.load(from: dir)?.documents.map(\.id) == ["a"])
    }
}
