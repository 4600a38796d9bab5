import NIOCore

/// How long the record cache may trust its tracking connection without hearing from the store
/// (PROTOCOL.md "Tracking", client rules). A store that is frozen, or a link that silently drops
/// packets, never closes the connection, so "connected" alone would let the cache serve stale
/// records forever; instead a hit is served only within `duration` of the last frame read on that
/// connection. Time is passed in, so the rules are tested without sleeping.
struct TrackingLease: Sendable {
    let duration: TimeAmount
    /// When the tracking connection last delivered a frame; nil before the first.
    private(set) var heardAt: NIODeadline?
    /// A PING was sent and nothing has arrived since.
    private var pinging = false

    init(duration: TimeAmount) {
        self.duration = duration
    }

    /// A frame arrived on the tracking connection (an answer, a push, a PONG): the store was alive.
    mutating func heard(at now: NIODeadline) {
        heardAt = now
        pinging = false
    }

    /// True while hits may be served.
    func isLive(at now: NIODeadline) -> Bool {
        guard let heardAt else { return false }
        return now - heardAt < duration
    }

    /// True (once) when the link has been quiet for half the lease: the caller sends a PING, whose
    /// answer renews the lease and whose absence past the request timeout closes the connection.
    mutating func pingDue(at now: NIODeadline) -> Bool {
        guard !pinging, let heardAt, now - heardAt >= TimeAmount.nanoseconds(duration.nanoseconds / 2) else { return false }
        pinging = true
        return true
    }
}
