import EpilogueModel
import EpilogueShared
import Metrics
import NIOCore

/// The gateway's record cache (`--cache-mb`): `RecordCache` shards behind their own locks, so
/// requests on different event loops rarely wait for each other, each shard holding an equal
/// part of the byte budget. Records are kept inflated: a hit then costs no zlib call (see
/// docs/PERFORMANCE.md, "Gateway record cache"). `StoreClient` consults it for GET, drops its
/// own writes' ids, and `StorePool` feeds it the store's pushes and the tracking connection's
/// fate. Metric names are in docs/OPERATIONS.md.
final class SharedRecordCache: Sendable {
    private let shards: [Locked<RecordCache<Record>>]
    private let metrics = CacheMetrics()
    /// The shards' bytes together, for the gauge, kept by deltas (no walk over every shard's lock).
    private let totalBytes = Locked(0)
    private let pushes = Locked(PushLog())
    /// Hits are served only while the tracking connection has been heard from lately.
    private let lease: Locked<TrackingLease>

    private struct PushLog {
        var applied = 0
        var waiters: [(after: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    /// `capacity` in bytes, as `estimatedBytes` counts them; more than 0.
    init(capacity: Int, shards count: Int = 16, lease: TimeAmount = StoreClient.Configuration.defaultCacheLease) {
        self.lease = Locked(TrackingLease(duration: lease))
        let count = max(1, min(count, capacity / (64 * 1024)))
        shards = (0..<count).map { _ in Locked(RecordCache<Record>(capacity: capacity / count)) }
    }

    private func index(_ id: String) -> Int {
        Int(UInt(bitPattern: id.hashValue) % UInt(shards.count))
    }

    private func shard(_ id: String) -> Locked<RecordCache<Record>> { shards[index(id)] }

    /// A hit, or nil (a miss: ask the store, with `beginFill` first). Past the lease every lookup
    /// misses, so the GET goes to the store and fails as an uncached one would if it is gone.
    func lookup(_ id: String, now: NIODeadline = .now()) -> Record? {
        guard case .hit(let record) = find(id, now: now, beginningFill: false) else { return nil }
        return record
    }

    func beginFill(_ id: String) -> RecordCache<Record>.Ticket? {
        shard(id).withLock { $0.beginFill(id) }
    }

    /// What a GET finds: the record, or a miss with the fill ticket for its answer.
    enum Lookup {
        case hit(Record)
        case miss(RecordCache<Record>.Ticket?)
    }

    /// `lookup` and, on a miss, `beginFill`, in one hold of the shard's lock (every miss took it twice).
    func lookupOrBeginFill(_ id: String, now: NIODeadline = .now()) -> Lookup {
        find(id, now: now, beginningFill: true)
    }

    private func find(_ id: String, now: NIODeadline, beginningFill: Bool) -> Lookup {
        let leased = lease.withLock { $0.isLive(at: now) }
        let (found, events) = shard(id).withLock { cache -> (Lookup, RecordCache<Record>.Events) in
            let found: Lookup = cache.lookup(id, leased: leased).map { .hit($0) } ?? .miss(beginningFill ? cache.beginFill(id) : nil)
            return (found, cache.takeEvents())
        }
        metrics.record(events)
        return found
    }

    func completeFill(_ ticket: RecordCache<Record>.Ticket, with record: Record?) {
        let bytes = record.map(Self.estimatedBytes) ?? 0
        let (filled, delta, events) = shard(ticket.id).withLock { cache in
            let before = cache.bytes
            let filled = cache.completeFill(ticket, with: record, bytes: bytes)
            return (filled, cache.bytes - before, cache.takeEvents())
        }
        if filled { metrics.fills.increment() }
        note(events, bytesDelta: delta)
    }

    /// The store pushed INVALIDATE: these records changed; empty means all of them.
    func invalidate(_ ids: [String]) {
        if ids.isEmpty {
            forEachShard { $0.invalidate([]) }
        } else {
            forEachShard(of: ids) { cache, ids in cache.invalidate(ids) }
        }
        let ready = pushes.withLock { pushes in
            pushes.applied += 1
            let ready = pushes.waiters.filter { $0.after < pushes.applied }
            pushes.waiters.removeAll { $0.after < pushes.applied }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// INVALIDATE pushes applied so far.
    var pushesApplied: Int { pushes.withLock { $0.applied } }

    /// Returns once more than `count` pushes have been applied: how a test (or an operator's
    /// probe) waits for a write's invalidation without guessing a delay.
    func pushApplied(after count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = pushes.withLock { pushes in
                guard pushes.applied <= count else { return true }
                pushes.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// This client writes `ids` (see `RecordCache.beginWrite`).
    func beginWrite(_ ids: [String]) { forEachShard(of: ids) { cache, ids in cache.beginWrite(ids) } }

    func endWrite(_ ids: [String]) { forEachShard(of: ids) { cache, ids in cache.endWrite(ids) } }

    private func forEachShard(of ids: [String], _ body: (inout RecordCache<Record>, [String]) -> Void) {
        if shards.count == 1 { return change(shards[0]) { body(&$0, ids) } }
        var byShard: [Int: [String]] = [:]
        for id in ids { byShard[index(id), default: []].append(id) }
        for (index, ids) in byShard { change(shards[index]) { body(&$0, ids) } }
    }

    /// TRACK was answered: serve, with the lease running from that answer.
    func trackingStarted(at now: NIODeadline = .now()) {
        heard(at: now)
        forEachShard { $0.trackingStarted() }
    }

    /// A frame arrived on the tracking connection: the lease runs from `now`.
    func heard(at now: NIODeadline = .now()) { lease.withLock { $0.heard(at: now) } }

    /// True (once per quiet spell) when the tracking connection should send a PING to keep the lease.
    func pingDue(at now: NIODeadline = .now()) -> Bool { lease.withLock { $0.pingDue(at: now) } }

    var leaseDuration: TimeAmount { lease.withLock { $0.duration } }

    func trackingLost() { forEachShard { $0.trackingLost() } }

    var isServing: Bool { shards[0].withLock { $0.isServing } }

    /// Hits and misses since the start.
    var lookups: (hits: Int, misses: Int) {
        shards.reduce((0, 0)) { sum, shard in
            let totals = shard.withLock { $0.totals }
            return (sum.0 + totals.hits, sum.1 + totals.misses)
        }
    }

    /// Bytes held, as `estimatedBytes` counts them.
    var bytes: Int { shards.reduce(0) { sum, shard in sum + shard.withLock { $0.bytes } } }

    var count: Int { shards.reduce(0) { sum, shard in sum + shard.withLock { $0.count } } }

    private func forEachShard(_ body: (inout RecordCache<Record>) -> Void) {
        for shard in shards { change(shard, body) }
    }

    private func change(_ shard: Locked<RecordCache<Record>>, _ body: (inout RecordCache<Record>) -> Void) {
        let (delta, events) = shard.withLock { cache in
            let before = cache.bytes
            body(&cache)
            return (cache.bytes - before, cache.takeEvents())
        }
        note(events, bytesDelta: delta)
    }

    private func note(_ events: RecordCache<Record>.Events, bytesDelta: Int) {
        metrics.record(events)
        guard bytesDelta != 0 else { return }
        metrics.bytes.record(totalBytes.withLock { total in
            total += bytesDelta
            return total
        })
    }

    /// What a cached record counts against the budget: its strings' bytes (the id twice: the
    /// record's and the index key) plus a fixed 256 for the record, the strings' headers and the
    /// cache's node and index slot. An estimate: `--cache-mb` bounds this count.
    static func estimatedBytes(_ record: Record) -> Int {
        let c = record.content
        return 256 + record.id.utf8.count * 2 + c.film.utf8.count + c.director.utf8.count + c.subject.utf8.count
            + c.reading.utf8.count + c.source.utf8.count + c.themes.reduce(0) { $0 + 16 + $1.utf8.count }
    }
}

/// The cache's metrics (docs/OPERATIONS.md).
private struct CacheMetrics: Sendable {
    let hits = Counter(label: "epilogue_gateway_cache_hits_total")
    let misses = Counter(label: "epilogue_gateway_cache_misses_total")
    let fills = Counter(label: "epilogue_gateway_cache_fills_total")
    let invalidations = Counter(label: "epilogue_gateway_cache_invalidations_total")
    let evictions = Counter(label: "epilogue_gateway_cache_evictions_total")
    let bytes = Gauge(label: "epilogue_gateway_cache_bytes")

    func record(_ events: RecordCache<Record>.Events) {
        if events.hits > 0 { hits.increment(by: events.hits) }
        if events.misses > 0 { misses.increment(by: events.misses) }
        if events.invalidations > 0 { invalidations.increment(by: events.invalidations) }
        if events.evictions > 0 { evictions.increment(by: events.evictions) }
    }
}
