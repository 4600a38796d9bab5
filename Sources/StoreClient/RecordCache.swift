/// A bounded least-recently-used map of records by id that never keeps a value a write replaced:
/// the client side of PROTOCOL.md "Tracking", as a value (one shard of `SharedRecordCache`).
///
/// It serves only while the store pushes invalidations to this client (`trackingStarted`); when
/// that connection is lost it drops everything (`trackingLost`), since pushes may have been
/// missed. The classic race — a GET's answer read before a write, arriving after that write's
/// invalidation — is closed with tickets: a miss takes a `Ticket` before its GET is sent, every
/// invalidation advances `epoch`, and `completeFill` stores the answer only if no invalidation
/// of that id (and no flush) came after the ticket was taken.
struct RecordCache<Value> {
    /// A miss whose answer may fill the cache; given back to `completeFill` exactly once.
    struct Ticket: Sendable, Equatable {
        let id: String
        let epoch: UInt64
    }

    /// What happened, for metrics: the counts since the last `takeEvents`.
    struct Events: Equatable {
        var hits = 0
        var misses = 0
        var invalidations = 0
        var evictions = 0
    }

    private struct Node {
        var id: String
        /// Nil once the node is free, so an evicted value is released at once.
        var value: Value?
        var bytes: Int
        var newer: Int
        var older: Int
    }

    private static var none: Int { -1 }

    /// Most bytes the values may take (as their owner counts them).
    let capacity: Int
    private(set) var bytes = 0
    private(set) var events = Events()
    /// Everything `takeEvents` handed out so far.
    private(set) var totals = Events()
    private(set) var isServing = false

    private var nodes: [Node] = []
    private var freeNodes: [Int] = []
    private var index: [String: Int] = [:]
    /// Most and least recently used nodes.
    private var newest = Self.none
    private var oldest = Self.none

    private var epoch: UInt64 = 0
    /// The epoch of the last flush: tickets taken before it fill nothing.
    private var flushedAt: UInt64 = 0
    /// Ids with misses in flight: how many, and the epoch of their id's last invalidation.
    private var fills: [String: (count: Int, invalidatedAt: UInt64)] = [:]
    /// Ids this client is writing (sent, not answered), with how many writes: never filled meanwhile.
    private var writing: [String: Int] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { index.count }

    /// The cached value, now the most recently used; nil (a miss) when absent, not serving, or
    /// `leased` is false (the store has not been heard from lately: see `TrackingLease`).
    mutating func lookup(_ id: String, leased: Bool = true) -> Value? {
        guard isServing, leased, let node = index[id] else {
            events.misses += 1
            return nil
        }
        events.hits += 1
        moveToNewest(node)
        return nodes[node].value
    }

    /// Called before the GET of a miss is sent; nil when its answer must not be kept (not serving).
    mutating func beginFill(_ id: String) -> Ticket? {
        guard isServing, capacity > 0 else { return nil }
        fills[id, default: (0, 0)].count += 1
        return Ticket(id: id, epoch: epoch)
    }

    /// The answer to a ticket's GET (nil when it failed). Keeps it when nothing invalidated the id
    /// since the ticket was taken; true when it did.
    @discardableResult
    mutating func completeFill(_ ticket: Ticket, with value: Value?, bytes: Int) -> Bool {
        guard var fill = fills[ticket.id] else { return false }
        fill.count -= 1
        fills[ticket.id] = fill.count == 0 ? nil : fill
        guard let value, isServing, flushedAt <= ticket.epoch, fill.invalidatedAt <= ticket.epoch,
              writing[ticket.id] == nil, bytes <= capacity else { return false }
        insert(ticket.id, value, bytes: bytes)
        return true
    }

    /// These ids changed (a push, or this client's own write); an empty list means every id.
    mutating func invalidate(_ ids: [String]) {
        guard !ids.isEmpty else { return flush() }
        epoch += 1
        for id in ids {
            if fills[id] != nil { fills[id]!.invalidatedAt = epoch }
            if let node = index[id] {
                remove(node)
                events.invalidations += 1
            }
        }
    }

    /// This client sends a write of `ids`: their copies go, and none is kept until `endWrite`, so a
    /// GET pipelined after the write reaches the store, which applies one lane's requests in order.
    mutating func beginWrite(_ ids: [String]) {
        for id in ids { writing[id, default: 0] += 1 }
        invalidate(ids)
    }

    /// The write was answered (or failed): GETs whose tickets predate this answer keep nothing,
    /// since they may have read the old value on another connection.
    mutating func endWrite(_ ids: [String]) {
        for id in ids {
            if let count = writing[id] { writing[id] = count > 1 ? count - 1 : nil }
        }
        invalidate(ids)
    }

    /// The store now pushes every change to this client: start serving.
    mutating func trackingStarted() {
        isServing = true
    }

    /// The push connection is gone: changes may have been missed, so nothing cached can be trusted.
    mutating func trackingLost() {
        isServing = false
        flush()
    }

    /// The events since the last call (for metrics); they stay counted in `totals`.
    mutating func takeEvents() -> Events {
        totals.hits += events.hits
        totals.misses += events.misses
        totals.invalidations += events.invalidations
        totals.evictions += events.evictions
        defer { events = Events() }
        return events
    }

    private mutating func flush() {
        epoch += 1
        flushedAt = epoch
        events.invalidations += index.count
        nodes = []
        freeNodes = []
        index = [:]
        newest = Self.none
        oldest = Self.none
        bytes = 0
    }

    private mutating func insert(_ id: String, _ value: Value, bytes valueBytes: Int) {
        if let node = index[id] { remove(node) }
        while bytes + valueBytes > capacity, oldest != Self.none {
            remove(oldest)
            events.evictions += 1
        }
        let node = Node(id: id, value: value, bytes: valueBytes, newer: Self.none, older: newest)
        let slot: Int
        if let free = freeNodes.popLast() {
            nodes[free] = node
            slot = free
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if newest != Self.none { nodes[newest].newer = slot }
        newest = slot
        if oldest == Self.none { oldest = slot }
        index[id] = slot
        bytes += valueBytes
    }

    private mutating func remove(_ slot: Int) {
        unlink(slot)
        index[nodes[slot].id] = nil
        bytes -= nodes[slot].bytes
        nodes[slot].value = nil
        freeNodes.append(slot)
    }

    private mutating func moveToNewest(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = Self.none
        if newest != Self.none { nodes[newest].newer = slot }
        newest = slot
        if oldest == Self.none { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (nodes[slot].newer, nodes[slot].older)
        if newer != Self.none { nodes[newer].older = older } else { newest = older }
        if older != Self.none { nodes[older].newer = newer } else { oldest = newer }
        nodes[slot].newer = Self.none
        nodes[slot].older = Self.none
    }
}
