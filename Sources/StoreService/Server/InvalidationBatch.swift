import EpilogueProtocol

/// The ids one tracking connection has not been sent yet (PROTOCOL.md, "Tracking"), as a value:
/// writes add ids from the fsync thread, the connection's loop takes them as INVALIDATE messages.
/// A connection that does not read its pushes costs at most `maximumPending` ids: past that, the
/// batch collapses to "everything changed" (an empty INVALIDATE), which the client must honour
/// by dropping its whole cache.
struct InvalidationBatch {
    /// Ids per INVALIDATE frame: 1,000 ids of at most 128 bytes fit a 1 MiB frame with room to spare.
    static let idsPerFrame = 1_000

    private var pending: [String] = []
    private var overflowed = false
    /// A send of this batch is queued on the connection's loop: further ids ride along with it.
    private var sendQueued = false
    private let maximumPending: Int

    init(maximumPending: Int) {
        self.maximumPending = maximumPending
    }

    /// Adds changed ids; true when the caller must queue a send (none is queued yet).
    mutating func add(_ ids: [String]) -> Bool {
        if !overflowed {
            if pending.count + ids.count > maximumPending {
                overflowed = true
                pending = []
            } else {
                pending += ids
            }
        }
        guard !sendQueued else { return false }
        sendQueued = true
        return true
    }

    /// The queued send found the connection not writable: the ids stay (bounded as ever), the next
    /// `add` queues a send again, and the connection sends them when it drains.
    mutating func hold() {
        sendQueued = false
    }

    /// The messages to push now; the batch is empty afterwards and the next `add` queues a send.
    mutating func take() -> [ServerMessage] {
        defer {
            pending = []
            overflowed = false
            sendQueued = false
        }
        if overflowed { return [.invalidate(ids: [])] }
        return stride(from: 0, to: pending.count, by: Self.idsPerFrame).map { start in
            .invalidate(ids: Array(pending[start..<min(start + Self.idsPerFrame, pending.count)]))
        }
    }
}
