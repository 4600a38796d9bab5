import EpilogueProtocol
import EpilogueModel
import EpilogueShared
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

/// Acknowledged writes, shared by writer tasks: when each was sent and when it was acknowledged.
final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var acked: [(id: String, version: UInt64, reading: String, sent: ContinuousClock.Instant, at: ContinuousClock.Instant)] = []
    /// Every write sent, acknowledged or not: its reading, by id.
    private var attempted: [String: [String]] = [:]
    func attempt(_ id: String, reading: String) {
        lock.lock(); attempted[id, default: []].append(reading); lock.unlock()
    }
    func add(_ id: String, _ version: UInt64, reading: String, sent: ContinuousClock.Instant) {
        lock.lock(); acked.append((id, version, reading, sent, .now)); lock.unlock()
    }
    /// What the crash suite's check (`AcknowledgedWriteCheck`) needs to judge a copy taken at
    /// `instant`: per id, the last write acknowledged before it; every other write attempted is
    /// of unknown fate (a copy may or may not hold it, but never half of it).
    func writtenKeys(asOf instant: ContinuousClock.Instant) -> [String: WrittenKey] {
        lock.lock(); defer { lock.unlock() }
        var keys: [String: WrittenKey] = [:]
        for write in acked where write.at < instant && write.version > (keys[write.id]?.acked?.version ?? 0) {
            keys[write.id] = WrittenKey(acked: (write.version, write.reading))
        }
        for (id, readings) in attempted {
            keys[id, default: WrittenKey()].unknown = readings.filter { $0 != keys[id]?.acked?.reading }
        }
        return keys
    }
    /// Acknowledged before `instant`: durable before it, so in any copy started after it.
    func before(_ instant: ContinuousClock.Instant) -> [(id: String, version: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        return acked.filter { $0.at < instant }.map { ($0.id, $0.version) }
    }
    /// Sent after `instant`: appended after it, so in no copy finished before it. (A write sent
    /// earlier but acknowledged later may be in the copy: its append can precede the copy's cut.)
    func sent(after instant: ContinuousClock.Instant) -> [(id: String, version: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        return acked.filter { $0.sent > instant }.map { ($0.id, $0.version) }
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return acked.count }

    /// Starts `writers` tasks, each putting ids `w<writer>/<n % keys>` until `stop` is set and
    /// recording every write `put` acknowledged (it answers the version, or nil if refused).
    func startWriters(_ writers: Int, keys: Int, until stop: ManagedAtomicFlag,
                      put: @escaping @Sendable (String, RecordContent) async -> UInt64?) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask {
                        var n = 0
                        while !stop.isSet {
                            let id = "w\(w)/\(n % keys)"
                            let sent = ContinuousClock.now
                            let reading = "writer \(w) write \(n)"
                            self.attempt(id, reading: reading)
                            if let version = await put(id, TestSupport.content(film: "Writers Room", reading: reading)) {
                                self.add(id, version, reading: reading, sent: sent)
                            }
                            n += 1
                        }
                    }
                }
            }
        }
    }
}

/// A flag set once, read by many tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
