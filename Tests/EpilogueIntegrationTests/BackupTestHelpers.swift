import EpilogueProtocol
import EpilogueModel
import EpilogueShared
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStore
/// Acknowledged writes, shared by writer tasks.
final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var acked: [(id: String, version: UInt64, at: ContinuousClock.Instant)] = []
    func add(_ id: String, _ version: UInt64) { lock.lock(); acked.append((id, version, .now)); lock.unlock() }
    func before(_ instant: ContinuousClock.Instant) -> [(id: String, version: UInt64)] {
        lock.lock(); defer { lock.unlock() }
        return acked.filter { $0.at < instant }.map { ($0.id, $0.version) }
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return acked.count }
}

/// A flag set once, read by many tasks.
final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
