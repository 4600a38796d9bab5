import EpilogueModel
import EpilogueProtocol
import EpilogueShared
import EpilogueTestSupport
import NIOCore
import NIOEmbedded
import Testing
@testable import EpilogueStoreClient

/// The record cache's lease (PROTOCOL.md "Tracking", client rule 4): hits only within the lease
/// after the last frame read on the tracking connection, a PING due after half of it, with time
/// passed in so no test sleeps.
@Suite struct TrackingLeaseTests {
    private static let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    private static func at(milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    @Test func aLeaseNeverHeardIsNotLive() {
        let lease = TrackingLease(duration: .seconds(2))
        #expect(!lease.isLive(at: Self.start))
    }

    @Test func aLeaseIsLiveUntilItsDurationAfterTheLastFrameAndAFrameRenewsIt() {
        var lease = TrackingLease(duration: .seconds(2))
        lease.heard(at: Self.start)
        #expect(lease.isLive(at: Self.at(milliseconds: 1_999)))
        #expect(!lease.isLive(at: Self.at(milliseconds: 2_000)))
        lease.heard(at: Self.at(milliseconds: 2_500))
        #expect(lease.isLive(at: Self.at(milliseconds: 4_000)))
        #expect(!lease.isLive(at: Self.at(milliseconds: 4_500)))
    }

    @Test func aPingIsDueOnceAfterHalfTheLeaseOfQuietAndAgainAfterTheNextFrame() {
        var lease = TrackingLease(duration: .seconds(2))
        func due(_ milliseconds: Int64) -> Bool { lease.pingDue(at: Self.at(milliseconds: milliseconds)) }
        #expect(!due(0), "nothing heard yet: no connection to keep")
        lease.heard(at: Self.start)
        #expect(!due(999))
        #expect(due(1_000))
        #expect(!due(1_500), "one PING outstanding at a time")
        lease.heard(at: Self.at(milliseconds: 1_600))
        #expect(!due(2_000))
        #expect(due(2_600))
    }

    @Test func aHitPastTheLeaseIsAMissAndTheRecordIsServedAgainOnceAFrameArrives() throws {
        let cache = SharedRecordCache(capacity: 1 << 20, lease: .seconds(2))
        cache.trackingStarted(at: Self.start)
        let record = Record(id: "x", content: TestSupport.content(), version: 1, updatedAt: 0)
        let ticket = try #require(cache.beginFill("x"))
        cache.completeFill(ticket, with: record)
        #expect(cache.lookup("x", now: Self.at(milliseconds: 1_999)) == record)
        #expect(cache.lookup("x", now: Self.at(milliseconds: 2_000)) == nil)
        #expect(cache.lookups.hits == 1)
        #expect(cache.lookups.misses == 1)
        // The connection never closed, so no push was missed: the copy is still good once heard from.
        cache.heard(at: Self.at(milliseconds: 3_000))
        #expect(cache.lookup("x", now: Self.at(milliseconds: 3_000)) == record)
    }

    @Test func aMissPastTheLeaseLeavesTheCopyInPlace() {
        var cache = RecordCache<String>(capacity: 100)
        cache.trackingStarted()
        let ticket = cache.beginFill("x")!
        let filled = cache.completeFill(ticket, with: "v", bytes: 1)
        let pastLease = cache.lookup("x", leased: false)
        let leased = cache.lookup("x")
        let events = cache.takeEvents()
        #expect(filled)
        #expect(pastLease == nil)
        #expect(leased == "v")
        #expect(events == .init(hits: 1, misses: 1, invalidations: 0, evictions: 0))
    }

    /// What `StorePool` puts before the tracking connection's handler: every frame, whatever its
    /// kind, reports itself and goes on down the pipeline.
    @Test func everyFrameReadIsReportedAndPassedOn() throws {
        let heard = Locked(0)
        let channel = EmbeddedChannel(handler: FrameHeardHandler { heard.withLock { $0 += 1 } })
        try channel.writeInbound(ServerMessage.pong(ByteBuffer()).frame(requestID: 3))
        try channel.writeInbound(ServerMessage.invalidate(ids: ["x"]).frame(requestID: 0))
        #expect(heard.withLock { $0 } == 2)
        #expect(try channel.readInbound(as: Frame.self)?.requestID == 3)
        #expect(try channel.readInbound(as: Frame.self)?.requestID == 0)
        _ = try channel.finish()
    }
}
