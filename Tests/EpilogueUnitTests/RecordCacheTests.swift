import Testing
@testable import EpilogueStoreClient

/// `RecordCache` as a value: what it serves, what it refuses to keep, and the race between a GET's
/// answer and an invalidation (PROTOCOL.md "Tracking", client rules). Values are strings here.
@Suite struct RecordCacheTests {
    /// The cache under test, in a reference so each step can sit inside `#expect`.
    final class Cache {
        var value: RecordCache<String>

        /// Serving (its tracking connection is up) unless `serving` is false.
        init(capacity: Int = 1_000, serving: Bool = true) {
            value = RecordCache(capacity: capacity)
            if serving { value.trackingStarted() }
        }

        func lookup(_ id: String) -> String? { value.lookup(id) }
        func beginFill(_ id: String) -> RecordCache<String>.Ticket? { value.beginFill(id) }
        func completeFill(_ ticket: RecordCache<String>.Ticket, with v: String?, bytes: Int = 10) -> Bool {
            value.completeFill(ticket, with: v, bytes: bytes)
        }
        func invalidate(_ ids: [String]) { value.invalidate(ids) }
        func beginWrite(_ ids: [String]) { value.beginWrite(ids) }
        func endWrite(_ ids: [String]) { value.endWrite(ids) }
        func takeEvents() -> RecordCache<String>.Events { value.takeEvents() }
        var count: Int { value.count }
        var bytes: Int { value.bytes }

        /// A miss whose answer arrives with nothing in between.
        func fill(_ id: String, _ v: String, bytes: Int = 10) throws {
            let ticket = try #require(beginFill(id))
            #expect(completeFill(ticket, with: v, bytes: bytes))
        }
    }

    @Test func aFilledRecordIsServedUntilItIsInvalidated() throws {
        let cache = Cache()
        #expect(cache.lookup("x") == nil)
        try cache.fill("x", "v1")
        #expect(cache.lookup("x") == "v1")
        cache.invalidate(["x"])
        #expect(cache.lookup("x") == nil)
        #expect(cache.takeEvents() == .init(hits: 1, misses: 2, invalidations: 1, evictions: 0))
    }

    /// The classic race: the store read v1 for our GET, then a write changed x and its push
    /// arrived before our GET's answer. Keeping v1 would serve it until the next write.
    @Test func anAnswerCrossedByAnInvalidationIsNotKept() throws {
        let cache = Cache()
        let ticket = try #require(cache.beginFill("x"))
        cache.invalidate(["x"])
        #expect(!cache.completeFill(ticket, with: "v1"))
        #expect(cache.lookup("x") == nil)
        // The next miss, begun after the push, keeps its (newer) answer.
        try cache.fill("x", "v2")
        #expect(cache.lookup("x") == "v2")
    }

    @Test func anInvalidationOfAnotherIdOrBeforeTheTicketDoesNotBlockTheFill() throws {
        let cache = Cache()
        cache.invalidate(["x"])
        let ticket = try #require(cache.beginFill("x"))
        cache.invalidate(["y"])
        #expect(cache.completeFill(ticket, with: "v1"))
        #expect(cache.lookup("x") == "v1")
    }

    /// Two misses of one id in flight: an invalidation between them blocks only the older one.
    @Test func concurrentMissesOfOneIdAreJudgedEachByItsOwnTicket() throws {
        let cache = Cache()
        let older = try #require(cache.beginFill("x"))
        cache.invalidate(["x"])
        let newer = try #require(cache.beginFill("x"))
        #expect(cache.completeFill(newer, with: "v2"))
        #expect(!cache.completeFill(older, with: "v1"))
        #expect(cache.lookup("x") == "v2")
    }

    @Test func anEmptyInvalidationDropsEverythingAndBlocksFillsInFlight() throws {
        let cache = Cache()
        try cache.fill("a", "1")
        try cache.fill("b", "2")
        let ticket = try #require(cache.beginFill("c"))
        cache.invalidate([])
        #expect(cache.count == 0 && cache.bytes == 0)
        #expect(!cache.completeFill(ticket, with: "3"))
        #expect(cache.lookup("a") == nil)
    }

    /// Pushes may have been missed while the tracking connection was down: nothing is served or
    /// kept until TRACK is answered again, and answers to GETs sent before are thrown away.
    @Test func losingTheTrackingConnectionFlushesAndStopsServingUntilItIsBack() throws {
        let cache = Cache()
        try cache.fill("x", "v1")
        let ticket = try #require(cache.beginFill("y"))
        cache.value.trackingLost()
        #expect(cache.lookup("x") == nil)
        #expect(cache.beginFill("x") == nil)
        cache.value.trackingStarted()
        #expect(!cache.completeFill(ticket, with: "old"))
        #expect(cache.lookup("x") == nil)
        try cache.fill("x", "v2")
        #expect(cache.lookup("x") == "v2")
    }

    @Test func nothingIsServedOrKeptBeforeTrackingStarts() {
        let cache = Cache(serving: false)
        #expect(cache.beginFill("x") == nil)
        #expect(cache.lookup("x") == nil)
    }

    /// Read-your-writes on the writing client: a GET pipelined after its PUT must reach the store
    /// (which applies one connection's requests in order), even if another connection's GET,
    /// read before the PUT was applied, answers meanwhile.
    @Test func nothingIsKeptForAnIdWhileThisClientWritesIt() throws {
        let cache = Cache()
        try cache.fill("x", "v1")
        cache.beginWrite(["x"])
        #expect(cache.lookup("x") == nil)
        let during = try #require(cache.beginFill("x"))
        #expect(!cache.completeFill(during, with: "v1"))
        let straddling = try #require(cache.beginFill("x"))
        cache.endWrite(["x"])
        #expect(!cache.completeFill(straddling, with: "v1"))
        try cache.fill("x", "v2")
        #expect(cache.lookup("x") == "v2")
    }

    @Test func overlappingWritesOfOneIdBlockFillsUntilTheLastIsAnswered() throws {
        let cache = Cache()
        cache.beginWrite(["x"])
        cache.beginWrite(["x"])
        cache.endWrite(["x"])
        let ticket = try #require(cache.beginFill("x"))
        #expect(!cache.completeFill(ticket, with: "v"))
        cache.endWrite(["x"])
        try cache.fill("x", "v")
        #expect(cache.lookup("x") == "v")
    }

    @Test func theLeastRecentlyUsedRecordsGoFirstAndBytesStayWithinCapacity() throws {
        let cache = Cache(capacity: 30)
        try cache.fill("a", "1")
        try cache.fill("b", "2")
        try cache.fill("c", "3")
        #expect(cache.lookup("a") == "1")  // b is now the least recently used
        try cache.fill("d", "4")
        #expect(cache.lookup("b") == nil)
        #expect(cache.lookup("a") == "1" && cache.lookup("c") == "3" && cache.lookup("d") == "4")
        #expect(cache.bytes == 30 && cache.count == 3)
        try cache.fill("e", "5", bytes: 25)
        #expect(cache.bytes == 25 && cache.count == 1 && cache.lookup("e") == "5")
        #expect(cache.takeEvents().evictions == 4)
    }

    @Test func aRecordLargerThanTheCapacityIsNotKept() throws {
        let cache = Cache(capacity: 30)
        let ticket = try #require(cache.beginFill("big"))
        #expect(!cache.completeFill(ticket, with: "x", bytes: 31))
        #expect(cache.count == 0 && cache.bytes == 0)
    }

    @Test func refillingAnIdReplacesItsBytes() throws {
        let cache = Cache()
        try cache.fill("x", "v1", bytes: 10)
        try cache.fill("x", "v2", bytes: 20)
        #expect(cache.bytes == 20 && cache.count == 1 && cache.lookup("x") == "v2")
    }

    @Test func aFailedGetReleasesItsTicket() throws {
        let cache = Cache()
        let failed = try #require(cache.beginFill("x"))
        #expect(!cache.completeFill(failed, with: nil, bytes: 0))
        // A ticket handed back twice changes nothing.
        #expect(!cache.completeFill(failed, with: "v"))
        #expect(cache.count == 0)
    }
}
