import EpilogueBenchWire
import EpilogueModel
import Foundation
import NIOConcurrencyHelpers

/// What each connection draws its requests from: templates with weights, keys, queries, corpus
/// records. Immutable after loading, so every event loop reads it without locks.
final class RequestSource: Sendable {
    struct Record: Sendable {
        var id: [UInt8]
        var text: [UInt8]
        var json: [UInt8]
    }

    let templates: [RequestTemplate]
    /// Cumulative weights, one per template.
    let cumulativeWeights: [Int]
    let keys: [[UInt8]]
    let queries: [[UInt8]]
    let records: [Record]
    let resp: Bool
    /// With --once: the next corpus record to send; every record goes out exactly once, in order.
    let sequence: NIOLockedValueBox<Int>?

    init(templates: [RequestTemplate], weights: [Int], keys: [[UInt8]], queries: [[UInt8]], records: [Record], resp: Bool, once: Bool) {
        self.sequence = once ? NIOLockedValueBox(0) : nil
        self.templates = templates
        var sum = 0
        self.cumulativeWeights = weights.map { sum += $0; return sum }
        self.keys = keys
        self.queries = queries
        self.records = records
        self.resp = resp
    }

    /// Appends one request to `out`; returns the index of the template it used, or nil once
    /// --once has sent every record.
    func render(into out: inout [UInt8], rng: inout SplitMix64) -> Int? {
        let pick = Int(rng.next() % UInt64(cumulativeWeights.last!))
        let index = cumulativeWeights.firstIndex { pick < $0 }!
        let template = templates[index]
        var values = RequestTemplate.Values()
        if let sequence {
            let next = sequence.withLockedValue { next in
                defer { next += 1 }
                return next
            }
            guard next < records.count else { return nil }
            let record = records[next]
            values.id = record.id
            values.record = record.text
            values.json = record.json
        } else if template.drawsRecord {
            let record = records[Int(rng.next() % UInt64(records.count))]
            values.id = record.id
            values.record = record.text
            values.json = record.json
        } else if !keys.isEmpty {
            values.id = keys[Int(rng.next() % UInt64(keys.count))]
        }
        if !queries.isEmpty {
            values.query = queries[Int(rng.next() % UInt64(queries.count))]
        }
        if resp { template.renderRESP(values, into: &out) } else { template.renderLine(values, into: &out) }
        return index
    }

    static func lines(_ path: String) throws -> [[UInt8]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// The first `limit` records of a bench/make-corpus.py file, the JSON kept byte for byte.
    static func records(_ path: String, limit: Int) throws -> [Record] {
        let decoder = JSONDecoder()
        var out: [Record] = []
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where out.count < limit {
            let json = Array(line.utf8)
            let record = try decoder.decode(RecordJSON.self, from: Data(json))
            let c = record.content
            let text = TextPutArguments.render(id: record.id, fields: [
                "film": c.film, "year": String(c.year), "director": c.director, "subject": c.subject,
                "reading": c.reading, "source": c.source, "sourceKind": c.sourceKind.name,
                "themes": c.themes.joined(separator: ","),
            ])
            out.append(Record(id: Array(record.id.utf8), text: Array(text.utf8), json: json))
        }
        return out
    }
}

/// A small fast deterministic generator; each connection has its own, seeded from --seed.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Monotonic nanoseconds: one clock read per socket read, shared by all replies in it.
@inline(__always) func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}
