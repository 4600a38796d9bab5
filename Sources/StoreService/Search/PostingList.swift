/// One term's postings: (doc id, frequency) pairs in increasing doc id order, packed the way
/// search engines do so a million documents fit in memory: each entry is the LEB128 varint of
/// `gap << 1 | (frequency == 1)`, where gap is the distance from the previous doc id; when the
/// low bit is 0 the frequency follows in one byte (255 escapes to 255 + a varint of the rest).
/// Most terms occur once in a document, so most entries take 1–2 bytes instead of 8.
///
/// Every `blockSize` entries a skip entry remembers where the block starts, so intersecting a
/// rare term with a common one jumps over whole blocks instead of decoding them.
struct PostingList: Sendable, Equatable {
    static let blockSize = 64

    struct Skip: Sendable, Equatable {
        /// The doc id of the entry before the block (0 for the first block).
        var previousDoc: UInt32
        var offset: UInt32
    }

    private(set) var bytes: [UInt8] = []
    private(set) var skips: [Skip] = []
    /// Entries, dead ones included.
    private(set) var count = 0
    /// Entries whose document is still in the index: n(t).
    var live = 0
    private(set) var lastDoc: UInt32 = 0

    init() {}

    /// Rebuilds a list from its stored parts (an index snapshot).
    init(bytes: [UInt8], skips: [Skip], count: Int, live: Int, lastDoc: UInt32) {
        self.bytes = bytes
        self.skips = skips
        self.count = count
        self.live = live
        self.lastDoc = lastDoc
    }

    mutating func append(_ doc: UInt32, frequency: UInt32) {
        precondition(count == 0 || doc > lastDoc, "doc ids must increase")
        if count % Self.blockSize == 0 { skips.append(Skip(previousDoc: lastDoc, offset: UInt32(bytes.count))) }
        let gap = UInt64(doc - lastDoc) << 1
        if frequency == 1 {
            Self.writeVarint(gap | 1, to: &bytes)
        } else {
            Self.writeVarint(gap, to: &bytes)
            if frequency < 255 {
                bytes.append(UInt8(frequency))
            } else {
                bytes.append(255)
                Self.writeVarint(UInt64(frequency - 255), to: &bytes)
            }
        }
        lastDoc = doc
        count += 1
        live += 1
    }

    /// The list without the entries `keep` rejects.
    func keeping(_ keep: (UInt32) -> Bool) -> PostingList {
        var kept = PostingList()
        var cursor = Cursor(self)
        while cursor.advance() {
            if keep(cursor.doc) { kept.append(cursor.doc, frequency: cursor.frequency) }
        }
        return kept.trimmed()
    }

    /// The same list in buffers of exactly its size (appending leaves up to half unused).
    func trimmed() -> PostingList {
        PostingList(bytes: Self.exact(bytes), skips: Self.exact(skips), count: count, live: live, lastDoc: lastDoc)
    }

    private static func exact<T>(_ array: [T]) -> [T] {
        guard array.capacity > array.count else { return array }
        return [T](unsafeUninitializedCapacity: array.count) { buffer, initialized in
            _ = buffer.initialize(from: array)
            initialized = array.count
        }
    }

    static func writeVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Walks a list in order; `seek` moves forward to a doc id using the skip entries.
    struct Cursor {
        private let list: PostingList
        private var offset = 0
        private var position = 0
        private(set) var doc: UInt32 = 0
        private(set) var frequency: UInt32 = 0

        init(_ list: PostingList) { self.list = list }

        /// Decodes the next entry into `doc`/`frequency`; false at the end.
        mutating func advance() -> Bool {
            guard position < list.count else { return false }
            let head = readVarint()
            doc &+= UInt32(truncatingIfNeeded: head >> 1)
            if head & 1 == 1 {
                frequency = 1
            } else {
                let byte = list.bytes[offset]
                offset += 1
                frequency = byte < 255 ? UInt32(byte) : 255 + UInt32(truncatingIfNeeded: readVarint())
            }
            position += 1
            return true
        }

        /// Moves to the first entry whose doc id is at least `target` (staying put when the
        /// current one is); false when the list has none.
        mutating func seek(_ target: UInt32) -> Bool {
            if position > 0 && doc >= target { return true }
            let skips = list.skips
            let block = position / PostingList.blockSize
            // Gallop to the last block that starts before `target`, then binary-search.
            if block + 1 < skips.count && skips[block + 1].previousDoc < target {
                var low = block + 1
                var step = 1
                var high = low
                while high < skips.count && skips[high].previousDoc < target {
                    low = high
                    high += step
                    step *= 2
                }
                high = min(high, skips.count)
                while high - low > 1 {
                    let mid = (low + high) / 2
                    if skips[mid].previousDoc < target { low = mid } else { high = mid }
                }
                position = low * PostingList.blockSize
                offset = Int(skips[low].offset)
                doc = skips[low].previousDoc
            }
            while advance() {
                if doc >= target { return true }
            }
            return false
        }

        private mutating func readVarint() -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let byte = list.bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
        }
    }
}
