/// Builds a zlib preset dictionary from sample records, the way zstd's COVER trainer does: the
/// dictionary is made of segments of the samples, chosen for how many *different* records contain
/// their d-byte substrings (d-mers), so it holds what recurs across records rather than whatever
/// text happened to come last. Pure and deterministic: the same samples give the same bytes.
///
/// zlib can reach at most 32 KiB back, and the bytes nearest the data are reachable for the whole
/// record, so the best-scoring segments go at the end.
public struct DictionaryTrainer: Sendable {
    /// Dictionary size limit (zlib's window).
    public var capacity: Int
    /// Segment length: one segment is chosen per epoch (a slice of the samples).
    public var segmentLength: Int
    /// Length of the substrings whose spread across records scores a segment.
    public var dmerLength: Int

    public static let maximumCapacity = 32 * 1024

    public init(capacity: Int = maximumCapacity, segmentLength: Int = 128, dmerLength: Int = 6) {
        precondition(capacity > 0 && capacity <= Self.maximumCapacity, "a zlib dictionary is at most 32 KiB")
        precondition(dmerLength >= 4 && dmerLength <= 8 && segmentLength >= dmerLength)
        self.capacity = capacity
        self.segmentLength = segmentLength
        self.dmerLength = dmerLength
    }

    /// Hash table size (2^20 counters): collisions only blur scores, they never break anything.
    private static let hashBits = 20

    public func train(_ samples: [[UInt8]]) -> [UInt8] {
        var joined: [UInt8] = []
        joined.reserveCapacity(samples.reduce(0) { $0 + $1.count })
        var starts: [Int] = []
        for sample in samples where sample.count >= dmerLength {
            starts.append(joined.count)
            joined += sample
        }
        starts.append(joined.count)
        guard joined.count > segmentLength else { return Array(joined.suffix(capacity)) }

        // Hash of the d-mer at every position; positions whose d-mer crosses a record boundary get
        // no hash (they are not text that recurs).
        let noHash = UInt32.max
        var hashes = [UInt32](repeating: noHash, count: joined.count)
        joined.withUnsafeBytes { raw in
            let mask: UInt64 = dmerLength == 8 ? .max : (1 << UInt64(dmerLength * 8)) - 1
            for s in 0..<(starts.count - 1) {
                let end = starts[s + 1]
                var position = starts[s]
                while position + dmerLength <= end {
                    var word: UInt64 = 0
                    // Little-endian load of up to 8 bytes without reading past the buffer.
                    if position + 8 <= raw.count {
                        word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                    } else {
                        for i in 0..<dmerLength { word |= UInt64(raw[position + i]) << UInt64(8 * i) }
                    }
                    hashes[position] = UInt32(truncatingIfNeeded: ((word & mask) &* 0x9E37_79B1_85EB_CA87) >> UInt64(64 - Self.hashBits))
                    position += 1
                }
            }
        }

        // How many records contain each d-mer (each record counts once).
        var frequency = [UInt32](repeating: 0, count: 1 << Self.hashBits)
        var lastRecord = [Int32](repeating: -1, count: 1 << Self.hashBits)
        for s in 0..<(starts.count - 1) {
            for position in starts[s]..<starts[s + 1] where hashes[position] != noHash {
                let h = Int(hashes[position])
                if lastRecord[h] != Int32(s) {
                    lastRecord[h] = Int32(s)
                    frequency[h] += 1
                }
            }
        }
        // A d-mer found in one record only is no use to any other record.
        for h in frequency.indices where frequency[h] == 1 { frequency[h] = 0 }

        // One segment per epoch: the window whose distinct d-mers have the highest total frequency.
        // Chosen d-mers then score zero, so later segments bring new material.
        let epochs = max(1, min(capacity / segmentLength, joined.count / segmentLength))
        let epochLength = joined.count / epochs
        var active = [UInt16](repeating: 0, count: 1 << Self.hashBits)
        var chosen: [(score: UInt64, epoch: Int, start: Int)] = []
        let windowDmers = segmentLength - dmerLength + 1
        for epoch in 0..<epochs {
            let lower = epoch * epochLength
            let upper = epoch == epochs - 1 ? joined.count : lower + epochLength
            guard upper - lower >= segmentLength else { continue }
            var score: UInt64 = 0
            var best: (score: UInt64, start: Int) = (0, lower)
            func add(_ position: Int) {
                let h = hashes[position]
                guard h != noHash else { return }
                if active[Int(h)] == 0 { score += UInt64(frequency[Int(h)]) }
                active[Int(h)] += 1
            }
            func remove(_ position: Int) {
                let h = hashes[position]
                guard h != noHash else { return }
                active[Int(h)] -= 1
                if active[Int(h)] == 0 { score -= UInt64(frequency[Int(h)]) }
            }
            for position in lower..<(lower + windowDmers) { add(position) }
            best = (score, lower)
            var start = lower
            while start + segmentLength < upper {
                remove(start)
                add(start + windowDmers)
                start += 1
                if score > best.score { best = (score, start) }
            }
            for position in start..<(start + windowDmers) { remove(position) }
            guard best.score > 0 else { continue }
            for position in best.start..<(best.start + windowDmers) where hashes[position] != noHash {
                frequency[Int(hashes[position])] = 0
            }
            chosen.append((best.score, epoch, best.start))
        }

        // Weakest first, strongest last (nearest the data); ties in sample order, for determinism.
        chosen.sort { ($0.score, $0.epoch) < ($1.score, $1.epoch) }
        var dictionary: [UInt8] = []
        dictionary.reserveCapacity(capacity)
        for segment in chosen {
            dictionary += joined[segment.start..<(segment.start + segmentLength)]
        }
        return Array(dictionary.suffix(capacity))
    }
}
