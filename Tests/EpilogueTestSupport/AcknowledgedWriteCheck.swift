import EpilogueProtocol
import EpilogueModel
import Foundation

/// What writers know about one id: the last write the store acknowledged, and the writes sent
/// after it whose fate is unknown (sent, never acknowledged, or acknowledged after the moment
/// being checked).
public struct WrittenKey: Sendable {
    public var acked: (version: UInt64, reading: String)?
    public var unknown: [String]

    public init(acked: (version: UInt64, reading: String)? = nil, unknown: [String] = []) {
        self.acked = acked
        self.unknown = unknown
    }
}

/// The crash suite's check of a store against what its writers know, for any suite that must
/// show a store (restarted after SIGKILL, or started from a backup) lost nothing acknowledged:
/// each acknowledged write is there with its content and version (or a later one), and anything
/// newer is wholly one of the writes attempted (never half a write).
public enum AcknowledgedWriteCheck {
    public struct HandshakeRefused: Error { var answer: String }

    /// Reads every id back from the store on `port`; returns what is wrong (empty: nothing).
    /// Two connections at once, each pipelining batches of 512 GETs.
    public static func verify(_ keys: [String: WrittenKey], port: Int) async throws -> [String] {
        let keys = Array(keys)
        let half = keys.count / 2
        return try await withThrowingTaskGroup(of: [String].self) { group in
            for part in [keys[..<half], keys[half...]] {
                group.addTask { try await verify(part, port: port) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    private static func verify(_ keys: ArraySlice<(key: String, value: WrittenKey)>, port: Int) async throws -> [String] {
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
