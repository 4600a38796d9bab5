import EpilogueProtocol
import EpilogueModel
@testable import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import Logging
import NIOCore
import Testing

/// SIGKILL the store at random moments under concurrent writes, restart it, and check after every
/// restart that each acknowledged write is there with the acknowledged content and version, and
/// that unacknowledged writes are either wholly there or absent.
/// CI runs 20 cycles; `EPILOGUE_CRASH_CYCLES=1000 swift test --filter CrashSafety` is the long mode.
/// Nothing here depends on speed, so a slow machine (or ThreadSanitizer) runs it slower, never
/// weaker: a cycle's kill waits for `minimumAcksPerCycle` acknowledged writes (failing only if
/// none comes for `stallBound`: the store stopped taking writes), and every `compactionEvery`th
/// cycle rewrites the hot keys until the store compacts — killed the moment its
/// `records.log.compacting` appears, or once STATS counts a finished compaction — with a bound in
/// bytes written, not in time. The store runs unprivileged, restarted on its port.
@Suite(.serialized) struct CrashSafetyTests {
    /// What the writers know: acknowledged writes, and attempts whose fate is unknown.
    actor Ledger {
        typealias Key = WrittenKey
        var keys: [String: Key] = [:]
        var acknowledged = 0
        /// Bytes of hot readings acknowledged: what a compaction cycle has rewritten.
        var hotBytesAcknowledged = 0

        func attempt(_ id: String, _ reading: String) { keys[id, default: Key()].unknown.append(reading) }

        func ack(_ id: String, _ reading: String, version: UInt64) {
            keys[id] = Key(acked: (version, reading), unknown: [])
            acknowledged += 1
            if id.hasPrefix("hot-") { hotBytesAcknowledged += reading.utf8.count }
        }

        func snapshot() -> [String: Key] { keys }
    }

    /// Writes acknowledged in a cycle before its kill lands.
    static let minimumAcksPerCycle = 10
    /// No write acknowledged for this long means the store stopped taking writes (not slowness:
    /// one write takes milliseconds, even under ThreadSanitizer).
    static let stallBound = Duration.seconds(120)
    /// Every this many cycles (and in the last one) the cycle drives a compaction.
    static let compactionEvery = 5
    /// Hot readings: ~24 KB of random hex, about half that after zlib.
    static let hotReadingLength = 24_576

    // The limit covers the long mode too (1,000 cycles); CI's 20 cycles take well under a minute.
    @Test(.timeLimit(.minutes(240)))
    func acknowledgedWritesSurviveRepeatedSIGKILL() async throws {
        let cycles = Int(ProcessInfo.processInfo.environment["EPILOGUE_CRASH_CYCLES"] ?? "") ?? 20
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await StoreProcess(directory: dir)
        defer { store.stop() }
        try await store.waitUntilServing()
        let port = store.port
        var logger = Logger(label: "crash-test")
        logger.logLevel = .critical
        let client = StoreClient(configuration: .init(host: "127.0.0.1", port: port, connections: 2, requestTimeout: .seconds(3),
                                                      initialBackoff: .milliseconds(10), maximumBackoff: .milliseconds(100)),
                                 logger: logger)
        client.start()
        defer { client.shutdown() }
        let ledger = Ledger()
        var generator = SplitMix64(seed: UInt64(cycles))
        let hexDigits = Array("0123456789abcdef".utf8)
        let noise = String(decoding: (0..<(1 << 20)).map { _ in hexDigits[Int(generator.next() % 16)] }, as: UTF8.self)

        var lost: [String] = []
        var phases = Phases()
        let started = ContinuousClock.now
        for cycle in 0..<cycles {
            var mark = ContinuousClock.now
            let ackedBefore = await ledger.acknowledged
            let compactionCycle = (cycle + 1) % Self.compactionEvery == 0 || cycle + 1 == cycles
            // Writers run until the store is killed under them; in a compaction cycle every write
            // rewrites a hot key, piling up dead bytes.
            let writers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            var n = 0
                            while !Task.isCancelled {
                                n += 1
                                let hot = compactionCycle || n % 3 == 0
                                let id = hot ? "hot-\(writer)" : "c\(cycle)-w\(writer)-\(n)"
                                var reading = "cycle \(cycle) writer \(writer) write \(n)"
                                if hot {
                                    let offset = (cycle &* 7_919 &+ writer &* 104_729 &+ n &* 1_009) % (noise.utf8.count - Self.hotReadingLength)
                                    let start = noise.utf8.index(noise.startIndex, offsetBy: offset)
                                    reading += " " + String(noise[start..<noise.utf8.index(start, offsetBy: Self.hotReadingLength)])
                                }
                                await ledger.attempt(id, reading)
                                let content = RecordContent(film: "Crash", year: 2000, director: "D", subject: "s", reading: reading,
                                                            source: "test", sourceKind: .critic, themes: [])
                                if let written = try? await client.put(id: id, content: content) {
                                    await ledger.ack(id, reading, version: written.version)
                                } else {
                                    try? await Task.sleep(for: .milliseconds(5))
                                }
                            }
                        }
                    }
                }
            }
            defer { writers.cancel() }
            // A kill before the restarted store took any write tests little: wait for some.
            try await waitForAcknowledged(ledger, atLeast: ackedBefore + Self.minimumAcksPerCycle, cycle: cycle)
            if compactionCycle {
                try await driveCompaction(ledger: ledger, client: client, directory: dir, cycle: cycle, phases: &phases, generator: &generator)
            } else {
                try await Task.sleep(for: .milliseconds(Int(generator.next() % 250) + 30))
                phases.compactionsFinished += await Self.compactions(client)
            }
            store.kill()
            writers.cancel()
            await writers.value
            if FileManager.default.fileExists(atPath: dir + "/records.log.compacting") { phases.killedMidCompaction += 1 }
            phases.writing += ContinuousClock.now - mark
            mark = ContinuousClock.now
            try await store.restart()
            phases.restarting += ContinuousClock.now - mark
            mark = ContinuousClock.now
            lost += try await AcknowledgedWriteCheck.verify(await ledger.snapshot(), port: port)
            phases.verifying += ContinuousClock.now - mark
            if (cycle + 1) % 10 == 0 || cycle + 1 == cycles {
                // stderr, unbuffered: a long run shows how far it got even if it is stopped.
                let line = "CrashSafetyTests: cycle \(cycle + 1)/\(cycles), \(await ledger.acknowledged) acknowledged, \(await ledger.keys.count) ids, "
                    + "\(lost.count) lost; \(phases); \(ContinuousClock.now - started) in all\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        #expect(lost.isEmpty, "acknowledged writes lost or wrong: \(lost.prefix(10))")
        #expect(phases.compactionCycles > 0 && phases.compactionCycles == phases.compactionsSeen,
                "compaction cycles \(phases.compactionCycles), compactions seen in them \(phases.compactionsSeen)")
        print("CrashSafetyTests: \(cycles) SIGKILL cycles, \(await ledger.acknowledged) acknowledged writes, \(lost.count) lost; \(phases)")
    }

    /// Waits until the ledger counts `count` acknowledged writes.
    private func waitForAcknowledged(_ ledger: Ledger, atLeast count: Int, cycle: Int) async throws {
        var watch = StallWatch(acknowledged: await ledger.acknowledged)
        while true {
            let acknowledged = await ledger.acknowledged
            if acknowledged >= count { return }
            try watch.observe(acknowledged, cycle: cycle)
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Fails the test when no write at all is acknowledged for `stallBound`: the store stopped
    /// taking writes. Slowness alone never trips it.
    struct StallWatch {
        var acknowledged: Int
        var since = ContinuousClock.now

        mutating func observe(_ now: Int, cycle: Int) throws {
            if now != acknowledged {
                (acknowledged, since) = (now, .now)
            } else if ContinuousClock.now - since > CrashSafetyTests.stallBound {
                Issue.record("cycle \(cycle): no write acknowledged for \(CrashSafetyTests.stallBound) (\(now) in all)")
                throw Stalled()
            }
        }
    }

    /// Lets the hot rewrites run until the store compacts. The moment `records.log.compacting`
    /// appears the store is killed mid-compaction (the caller kills it on return); if a compaction
    /// finishes between two looks, STATS counts it and the kill comes a random moment later.
    /// Fails when the hot bytes rewritten reach four times the log's size at the start plus 16 MiB:
    /// compaction is due (dead bytes over 1 MiB and over half the log) long before.
    private func driveCompaction(ledger: Ledger, client: StoreClient, directory: String, cycle: Int, phases: inout Phases,
                                 generator: inout SplitMix64) async throws {
        phases.compactionCycles += 1
        let logBytes = await Self.stat("log_bytes", client) ?? 0
        let hotBefore = await ledger.hotBytesAcknowledged
        let bound = 4 * logBytes + 16 << 20
        var lastStats = ContinuousClock.now
        var watch = StallWatch(acknowledged: await ledger.acknowledged)
        while true {
            if FileManager.default.fileExists(atPath: directory + "/records.log.compacting") {
                phases.compactionsSeen += 1
                return
            }
            if ContinuousClock.now - lastStats > .milliseconds(50) {
                lastStats = .now
                let finished = await Self.compactions(client)
                if finished > 0 {
                    phases.compactionsSeen += 1
                    phases.compactionsFinished += finished
                    try await Task.sleep(for: .milliseconds(Int(generator.next() % 100)))
                    return
                }
                let rewritten = await ledger.hotBytesAcknowledged - hotBefore
                if rewritten > bound {
                    Issue.record("cycle \(cycle): no compaction after \(rewritten) bytes of hot rewrites over a \(logBytes)-byte log")
                    return
                }
                try watch.observe(await ledger.acknowledged, cycle: cycle)
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Compactions this store process has finished (0 when STATS does not answer).
    private static func compactions(_ client: StoreClient) async -> Int { await stat("compactions", client) ?? 0 }

    private static func stat(_ name: String, _ client: StoreClient) async -> Int? {
        guard let entries = try? await client.stats() else { return nil }
        return entries.first { $0.name == name }.map { Int($0.value) }
    }

    struct Stalled: Error {}

    /// Where a long run spends its time, and what compactions it saw.
    struct Phases: CustomStringConvertible {
        var writing = Duration.zero
        var restarting = Duration.zero
        var verifying = Duration.zero
        var compactionsFinished = 0
        var killedMidCompaction = 0
        /// Cycles that drove a compaction, and those in which one was seen (started or finished).
        var compactionCycles = 0
        var compactionsSeen = 0

        var description: String {
            "time writing+killing \(writing), restarting \(restarting), verifying \(verifying); "
                + "compaction cycles \(compactionCycles) (compaction seen in \(compactionsSeen)), "
                + "compactions finished ≥\(compactionsFinished), killed mid-compaction \(killedMidCompaction)"
        }
    }
}
