/// One term's postings: (doc id, frequency) pairs in increasing doc id order, packed the way
/// search engines do so a million documents fit in memory: each entry is the LEB128 varint of
/// `gap << 1 | (frequency == 1)`, where gap is the distance from the previous doc id; when the
/// low bit is 0 the frequency follows in one byte (255 escapes to 255 + a varint of the rest).
/// Most terms occur once in a document, so most entries take 1–2 bytes instead of 8.
///
/// The term's positions in each document are a second stream (`positions`), read only by
/// phrase and column queries, so plain queries decode exactly what they did without it. An
/// entry's positions are `frequency` varints (see `writePositions`), mostly one byte each.
///
/// Every `blockSize` entries a skip entry remembers where the block starts in both streams, so
/// intersecting a rare term with a common one jumps over whole blocks instead of decoding them.
/// It also keeps the block's highest frequency and its shortest document: bm25 grows with the
/// frequency and shrinks with the length, so those two bound the score of every entry in the
/// block (block-max top-k, `SearchIndex.search(terms:…)`). They are the raw inputs, not a
/// score, because idf and the mean length change as the index grows.
struct PostingList: Sendable, Equatable {
    static let blockSize = 64

    struct Skip: Sendable, Equatable {
        /// The doc id of the entry before the block (0 for the first block).
        var previousDoc: UInt32
        var offset: UInt32
        var positionsOffset: UInt32
        /// The highest frequency among the block's entries.
        var maxFrequency: UInt32 = 0
        /// The fewest tokens of a document among the block's entries (removed ones included,
        /// which only loosens the bound: a doc id's length never changes).
        var minLength: UInt32 = .max
    }

    private(set) var bytes: [UInt8] = []
    private(set) var positions: [UInt8] = []
    private(set) var skips: [Skip] = []
    /// Entries, dead ones included.
    private(set) var count = 0
    /// Entries whose document is still in the index: n(t).
    var live = 0
    private(set) var lastDoc: UInt32 = 0

    init() {}

    /// Rebuilds a list from its stored parts (an index snapshot).
    init(bytes: [UInt8], positions: [UInt8], skips: [Skip], count: Int, live: Int, lastDoc: UInt32) {
        self.bytes = bytes
        self.positions = positions
        self.skips = skips
        self.count = count
        self.live = live
        self.lastDoc = lastDoc
    }

    // MARK: Positions

    /// A token's place in a document: its column (0–3: film, subject, reading, source) in the top
    /// bits and its index among the column's tokens below, so keys of one column sort by offset
    /// and a phrase's next word is at `key + 1`.
    static func position(column: Int, offset: Int) -> UInt32 {
        precondition(column >= 0 && column < 4 && offset >= 0 && offset < 1 << 28, "position out of range")
        return UInt32(column) << 28 | UInt32(offset)
    }

    static func column(of position: UInt32) -> Int { Int(position >> 28) }

    /// Appends ascending positions as varints: `delta << 1` within the current column, or
    /// `(offset << 2 | columnStep) << 1 | 1` on moving to another column (`columnStep`, 1–3, is
    /// the move mod 4). Each entry starts in the reading column at offset 0, where most terms are.
    static func writePositions<C: Collection>(_ keys: C, to bytes: inout [UInt8]) where C.Element == UInt32 {
        var column: UInt32 = 2, offset: UInt32 = 0
        for key in keys {
            let c = key >> 28, o = key & ((1 << 28) - 1)
            if c == column {
                writeVarint(UInt64(o - offset) << 1, to: &bytes)
            } else {
                writeVarint((UInt64(o) << 2 | UInt64((c &- column) & 3)) << 1 | 1, to: &bytes)
                column = c
            }
            offset = o
        }
    }

    // MARK: Building

    /// Adds a document of `length` tokens with the term's positions in it (ascending; their
    /// count is the frequency).
    mutating func append<C: Collection>(_ doc: UInt32, positions keys: C, length: UInt32) where C.Element == UInt32 {
        precondition(count == 0 || doc > lastDoc, "doc ids must increase")
        precondition(!keys.isEmpty, "a posting needs an occurrence")
        if count % Self.blockSize == 0 {
            skips.append(Skip(previousDoc: lastDoc, offset: UInt32(bytes.count), positionsOffset: UInt32(positions.count)))
        }
        let frequency = keys.count
        skips[skips.count - 1].maxFrequency = max(skips[skips.count - 1].maxFrequency, UInt32(frequency))
        skips[skips.count - 1].minLength = min(skips[skips.count - 1].minLength, length)
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
        Self.writePositions(keys, to: &positions)
        lastDoc = doc
        count += 1
        live += 1
    }

    /// The list with only the entries whose document `length` knows (it returns the
    /// document's token count, or nil to drop the entry).
    func keeping(length: (UInt32) -> UInt32?) -> PostingList {
        var kept = PostingList()
        var cursor = Cursor(self, readingPositions: true)
        var keys: [UInt32] = []
        while cursor.advance() {
            guard let documentLength = length(cursor.doc) else { continue }
            keys.removeAll(keepingCapacity: true)
            cursor.appendPositions(to: &keys)
            kept.append(cursor.doc, positions: keys, length: documentLength)
        }
        return kept.trimmed()
    }

    /// The same list in buffers of exactly its size (appending leaves up to half unused).
    func trimmed() -> PostingList {
        PostingList(bytes: Self.exact(bytes), positions: Self.exact(positions), skips: Self.exact(skips),
                    count: count, live: live, lastDoc: lastDoc)
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

    static func readVarint(_ bytes: [UInt8], at offset: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    // MARK: Reading

    /// Walks a list in order; `seek` moves forward to a doc id using the skip entries. A cursor
    /// made `readingPositions` also follows the positions stream, lazily: it counts the
    /// occurrences of the entries it passes and steps over their positions (one byte scan each)
    /// only when `appendPositions` needs the current entry's, so passing entries costs no more
    /// than without positions.
    struct Cursor {
        private let list: PostingList
        private let readingPositions: Bool
        private var offset = 0
        private var position = 0
        /// A place in the positions stream (when `readingPositions`) ...
        private var positionsOffset = 0
        /// ... followed by this many occurrences' positions before the current entry's.
        private var positionsToSkip = 0
        /// Whether the cursor is on an entry (false before the first and after a jump).
        private var onEntry = false
        private(set) var doc: UInt32 = 0
        private(set) var frequency: UInt32 = 0

        init(_ list: PostingList, readingPositions: Bool = false) {
            self.list = list
            self.readingPositions = readingPositions
        }

        /// Decodes the next entry into `doc`/`frequency`; false at the end.
        mutating func advance() -> Bool {
            guard position < list.count else { return false }
            if onEntry { positionsToSkip += Int(frequency) }
            let head = PostingList.readVarint(list.bytes, at: &offset)
            doc &+= UInt32(truncatingIfNeeded: head >> 1)
            if head & 1 == 1 {
                frequency = 1
            } else {
                let byte = list.bytes[offset]
                offset += 1
                frequency = byte < 255 ? UInt32(byte) : 255 + UInt32(truncatingIfNeeded: PostingList.readVarint(list.bytes, at: &offset))
            }
            position += 1
            onEntry = true
            return true
        }

        /// Appends the current entry's positions (ascending keys, see `PostingList.position`).
        mutating func appendPositions(to keys: inout [UInt32]) {
            precondition(readingPositions && onEntry, "positions need a cursor reading them, on an entry")
            // Step over the passed entries' positions: one varint (a byte below 0x80 ends it) each,
            // eight bytes at a time while they end fewer varints than remain to skip (a common
            // word's block holds hundreds of positions; phrase matching passes most of them).
            list.positions.withUnsafeBytes { raw in
                while positionsOffset + 8 <= raw.count {
                    let ends = (~raw.loadUnaligned(fromByteOffset: positionsOffset, as: UInt64.self) & 0x8080_8080_8080_8080).nonzeroBitCount
                    guard ends < positionsToSkip else { break }
                    positionsToSkip -= ends
                    positionsOffset += 8
                }
            }
            while positionsToSkip > 0 {
                if list.positions[positionsOffset] < 0x80 { positionsToSkip -= 1 }
                positionsOffset += 1
            }
            var at = positionsOffset
            var column: UInt32 = 2, offset: UInt32 = 0
            for _ in 0..<frequency {
                let value = PostingList.readVarint(list.positions, at: &at)
                if value & 1 == 0 {
                    offset += UInt32(truncatingIfNeeded: value >> 1)
                } else {
                    column = (column + UInt32(truncatingIfNeeded: (value >> 1) & 3)) & 3
                    offset = UInt32(truncatingIfNeeded: value >> 3)
                }
                keys.append(column << 28 | offset)
            }
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
                jump(toBlock: low)
            }
            while advance() {
                if doc >= target { return true }
            }
            return false
        }

        /// Moves to just before the first entry of block `index` (the next `advance` reads it).
        mutating func jump(toBlock index: Int) {
            let skip = list.skips[index]
            position = index * PostingList.blockSize
            offset = Int(skip.offset)
            positionsOffset = Int(skip.positionsOffset)
            positionsToSkip = 0
            onEntry = false
            doc = skip.previousDoc
        }

        /// The block of the current entry (of the next one before the first `advance`).
        var block: Int { max(0, position - 1) / PostingList.blockSize }

        /// Whether the current entry is the last of its block (or of the list).
        var atBlockEnd: Bool { position % PostingList.blockSize == 0 || position == list.count }
    }
}
