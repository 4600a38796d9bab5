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
/// that unacknowledged writes are either wholly there or absent. Hot keys are rewritten with
/// large bodies so compactions run (and get killed) too.
/// CI runs 20 cycles; `EPILOGUE_CRASH_CYCLES=1000 swift test --filter CrashSafety` is the long mode.
/// Nothing here asserts speed: each cycle writes until at least `minimumAcksPerCycle` writes were
/// acknowledged before the kill, and cycles continue past the count until a compaction has run
/// (finished or killed mid-way) — all bounded by generous time limits, failing only if the
/// conditions never happen within them. The store runs unprivileged, restarted on its port.
@Suite(.serialized) struct CrashSafetyTests {
    /// What the writers know: acknowledged writes, and attempts whose fate is unknown.
    actor Ledger {
        struct Key {
            var acked: (version: UInt64, reading: String)?
            var unknown: [String] = []
        }
        var keys: [String: Key] = [:]
        var acknowledged = 0

        func attempt(_ id: String, _ reading: String) { keys[id, default: Key()].unknown.append(reading) }

        func ack(_ id: String, _ reading: String, version: UInt64) {
            keys[id] = Key(acked: (version, reading), unknown: [])
            acknowledged += 1
        }

        func snapshot() -> [String: Key] { keys }
    }

    /// Writes acknowledged in a cycle before its kill lands.
    static let minimumAcksPerCycle = 10
    /// Bounds on the conditions above: per cycle, and extra cycles to see a compaction.
    static let cycleWriteBound = Duration.seconds(60)
    static let extraCyclesForCompaction = 40

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
        // Hot readings are ~24 KB of random hex (about half that after zlib), so rewriting them
        // piles up dead bytes quickly and compactions run often enough to be killed mid-way.
        var generator = SplitMix64(seed: UInt64(cycles))
        let hexDigits = Array("0123456789abcdef".utf8)
        let noise = String(decoding: (0..<(1 << 20)).map { _ in hexDigits[Int(generator.next() % 16)] }, as: UTF8.self)

        var lost: [String] = []
        var phases = Phases()
        let started = ContinuousClock.now
        var completed = 0
        var starvedCycles: [Int] = []
        // The planned cycles, then more (bounded) until a compaction has been seen.
        while completed < cycles || (phases.compactionsFinished + phases.killedMidCompaction == 0 && completed < cycles + Self.extraCyclesForCompaction) {
            let cycle = completed
            defer { completed += 1 }
            var mark = ContinuousClock.now
            let ackedBefore = await ledger.acknowledged
            // Writers run for a random while, then the store is killed under them.
            let writers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            var n = 0
                            while !Task.isCancelled {
                                n += 1
                                let hot = n % 3 == 0
                                let id = hot ? "hot-\(writer)" : "c\(cycle)-w\(writer)-\(n)"
                                var reading = "cycle \(cycle) writer \(writer) write \(n)"
                                if hot {
                                    let offset = (cycle &* 7_919 &+ writer &* 104_729 &+ n &* 1_009) % (noise.utf8.count - 24_576)
                                    let start = noise.utf8.index(noise.startIndex, offsetBy: offset)
                                    reading += " " + String(noise[start..<noise.utf8.index(start, offsetBy: 24_576)])
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
            // Kill at a random moment once this cycle has had writes acknowledged (a kill before the
            // restarted store took any write tests little); on a slow machine that takes longer.
            let flowing = ContinuousClock.now + Self.cycleWriteBound
            while await ledger.acknowledged - ackedBefore < Self.minimumAcksPerCycle && ContinuousClock.now < flowing {
                try await Task.sleep(for: .milliseconds(5))
            }
            if await ledger.acknowledged - ackedBefore < Self.minimumAcksPerCycle { starvedCycles.append(cycle) }
            try await Task.sleep(for: .milliseconds(Int(generator.next() % 250) + 30))
            // Compactions this store process finished so far (a lower bound: more may finish
            // before the kill lands).
            if let entries = try? await client.stats() {
                phases.compactionsFinished += Int(entries.first { $0.name == "compactions" }?.value ?? 0)
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
            lost += try await verify(ledger: ledger, port: port)
            phases.verifying += ContinuousClock.now - mark
            if (cycle + 1) % 10 == 0 || cycle + 1 == cycles {
                // stderr, unbuffered: a long run shows how far it got even if it is stopped.
                let line = "CrashSafetyTests: cycle \(cycle + 1)/\(cycles)+, \(await ledger.acknowledged) acknowledged, \(await ledger.keys.count) ids, "
                    + "\(lost.count) lost; \(phases); \(ContinuousClock.now - started) in all\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        #expect(lost.isEmpty, "acknowledged writes lost or wrong: \(lost.prefix(10))")
        let acknowledged = await ledger.acknowledged
        #expect(starvedCycles.isEmpty, "cycles \(starvedCycles) had fewer than \(Self.minimumAcksPerCycle) writes acknowledged within \(Self.cycleWriteBound) before the kill")
        #expect(phases.compactionsFinished + phases.killedMidCompaction > 0,
                "no compaction ran in \(completed) cycles: the test does not cover them")
        print("CrashSafetyTests: \(completed) SIGKILL cycles, \(acknowledged) acknowledged writes, \(lost.count) lost; \(phases)")
    }

    struct HandshakeRefused: Error { var answer: String }

    /// Where a long run spends its time, and what compactions it saw.
    struct Phases: CustomStringConvertible {
        var writing = Duration.zero
        var restarting = Duration.zero
        var verifying = Duration.zero
        var compactionsFinished = 0
        var killedMidCompaction = 0

        var description: String {
            "time writing+killing \(writing), restarting \(restarting), verifying \(verifying); "
                + "compactions finished ≥\(compactionsFinished), killed mid-compaction \(killedMidCompaction)"
        }
    }

    /// Reads every key the writers touched back from the restarted store; returns what is wrong.
    /// Two connections at once, each pipelining batches: the ledger grows to ~100,000 ids in the
    /// long mode, and every restart reads all of them.
    private func verify(ledger: Ledger, port: Int) async throws -> [String] {
        let keys = Array(await ledger.snapshot())
        let half = keys.count / 2
        return try await withThrowingTaskGroup(of: [String].self) { group in
            for part in [keys[..<half], keys[half...]] {
                group.addTask { try await self.verify(part, port: port) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    private func verify(_ keys: ArraySlice<(key: String, value: Ledger.Key)>, port: Int) async throws -> [String] {
        var problems: [String] = []
        try await withWireClient(port: port) { client in
            let greeting = try await client.handshake(dictionaries: [])
            guard case .ready = greeting else { throw HandshakeRefused(answer: "\(greeting)") }
            for batchStart in stride(from: keys.startIndex, to: keys.endIndex, by: 512) {
                let batch = keys[batchStart..<min(batchStart + 512, keys.endIndex)]
                for (offset, entry) in batch.enumerated() { try await client.send(.get(id: entry.key), id: UInt32(offset + 1)) }
                var answers: [UInt32: ServerMessage] = [:]
                for _ in batch {
                    let (message, requestID, _) = try await client.receive()
                    answers[requestID] = message
                }
                for (offset, (id, key)) in batch.enumerated() {
                    guard let message = answers[UInt32(offset + 1)] else { problems.append("\(id): no answer"); continue }
                    switch message {
                    case .record(let wire):
                        let reading = try RecordBody.decode(wire.body).reading
                        if let acked = key.acked, wire.version < acked.version {
                            problems.append("\(id): version \(wire.version) older than acknowledged \(acked.version)")
                        } else if let acked = key.acked, wire.version == acked.version, reading != acked.reading {
                            problems.append("\(id): acknowledged content differs at version \(acked.version)")
                        } else if key.acked.map({ wire.version > $0.version }) ?? true, !key.unknown.contains(reading) {
                            problems.append("\(id): content at version \(wire.version) is neither acknowledged nor attempted (half a write?)")
                        }
                    case .error(.notFound, _):
                        if let acked = key.acked { problems.append("\(id): acknowledged version \(acked.version) missing") }
                    default:
                        problems.append("\(id): unexpected answer \(message)")
                    }
                }
            }
        }
        return problems
    }
}
