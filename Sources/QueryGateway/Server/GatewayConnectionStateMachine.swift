import EpilogueModel
import EpilogueServerKit
import EpilogueStoreClient
import NIOCore

/// The reply order, flow control and lifecycle of one gateway client connection, as a value
/// type: `GatewayConnectionHandler` tells it what happened and does what it returns, so every
/// path is tested without a socket.
///
///     open --QUIT read----------------------> quitting --QUIT's reply written--> closed
///       \--shutdown or half-close--> draining/finishing --everything answered--> closed
///
/// Each command that gets an answer takes a *slot*, in the order it was read; a slot is filled
/// when its reply is known (at once, or when the store answers) and replies leave strictly from
/// the head. With `maximumInFlight` slots taken, lines already read wait in `queued` (one socket
/// read can hold many lines, so holding reads alone would not bound the commands in flight).
///
/// Shutdown: commands already read are still run and answered; a line read while draining is
/// answered `ERR SHUTTING_DOWN` without being run (reads go on only while earlier commands are
/// still being answered). A client that half-closed gets everything it sent answered.
///
/// EXPORT: its reply is streamed by the handler, a record at a time, once every reply before it
/// is out (`startExport`); replies after it wait until `exportEnded`.
///
/// IMPORT: from the command to its body's line `.`, lines go to its `GatewayImport` (body lines
/// are not commands, also while shutting down); lines after the body wait until the import has
/// answered, so the commands after it see it applied, as if sent one by one.
struct GatewayConnectionStateMachine {
    enum Action: Equatable {
        /// The head reply is ready: write it.
        case write(TextResponse)
        /// Write this reply (QUIT's), then close once it has gone out.
        case writeAndClose(TextResponse)
        /// Everything is answered while finishing: close once what was written has gone out.
        case close
        /// Room again for a line that was read while the limit was reached: run it now.
        case run(LineEvent)
        /// Issue the read that was held.
        case read
        /// The head reply is EXPORT's: start it; its lines go out as the store sends them.
        case startExport(RecordFilter)
        /// Send one batch of the running IMPORT; report the answer with `importBatchAnswered`.
        case sendImportBatch(ImportExisting, [ImportItem])
        /// Nothing to do until the next event.
        case wait
    }

    /// Why no new commands are run.
    private enum Finishing {
        /// QUIT was read: nothing after it is run or answered.
        case quit
        /// The client half-closed: everything it sent is still run.
        case inputClosed
        /// Graceful shutdown: what was read is run; lines read from now on are refused.
        case shutdown
    }

    private enum Queued: Equatable {
        case line(LineEvent)
        case refusal
    }

    private struct Slot {
        var reply: TextResponse?
        var closesConnection = false
        /// EXPORT's filter: the handler streams this reply itself when its turn comes.
        var export: RecordFilter?
        var exportStarted = false
    }

    private let maximumInFlight: Int
    private var flow = ConnectionFlow()
    private var finishing: Finishing?
    private var slots = CircularBuffer<Slot>()
    /// Sequence number of `slots.first`; a command's sequence names its slot until answered.
    private var headSequence = 0
    private var queued = CircularBuffer<Queued>()
    /// The running IMPORT and the sequence of its reply's slot.
    private var importing: (body: GatewayImport, sequence: Int)?

    static let shuttingDown = TextResponse.error(code: .shuttingDown, message: "the gateway is shutting down; retry once it is back")

    init(maximumInFlight: Int) {
        precondition(maximumInFlight > 0)
        self.maximumInFlight = maximumInFlight
    }

    var isClosed: Bool { flow.isClosed }

    // MARK: Events

    /// A line was read. Returns `.run` when the handler should run it now, `.wait` when it was
    /// queued, refused or dropped (then `nextAction` says what to write).
    mutating func lineRead(_ line: LineEvent) -> Action {
        guard !flow.isClosed else { return .wait }
        if finishing == nil || importing?.body.isReadingBody == true {
            guard takesLines, queued.isEmpty else {
                queued.append(.line(line))
                return .wait
            }
            return take(line)
        }
        switch finishing {
        case .quit, .inputClosed:
            // Nothing after QUIT is run; after a half-close nothing more arrives.
            return .wait
        case .shutdown:
            if hasRoom && queued.isEmpty { slots.append(Slot(reply: Self.shuttingDown)) } else { queued.append(.refusal) }
            return .wait
        case nil:
            return .wait  // taken above
        }
    }

    /// A line that may be taken now: a body line goes to the running IMPORT, anything else is run.
    private mutating func take(_ line: LineEvent) -> Action {
        guard importing?.body.isReadingBody == true else { return .run(line) }
        importing!.body.line(line)
        return .wait
    }

    /// IMPORT was read: the lines up to its `.` are its body. Its reply takes a slot now.
    mutating func importStarted(_ body: GatewayImport) {
        guard !flow.isClosed else { return }
        importing = (body, awaitingReply())
    }

    /// The store answered the IMPORT batch last sent (call `nextAction` until `.wait`).
    mutating func importBatchAnswered(_ result: Result<ImportCounts, StoreClientError>) {
        importing?.body.batchAnswered(result)
    }

    /// A command that was run got its reply at once (no store request). `closesConnection`:
    /// QUIT, after which nothing more is run or answered.
    mutating func replied(_ reply: TextResponse, closesConnection: Bool = false) {
        guard !flow.isClosed else { return }
        slots.append(Slot(reply: reply, closesConnection: closesConnection))
        if closesConnection {
            finishing = .quit
            queued.removeAll()
        }
    }

    /// A command that was run waits for the store: returns the sequence its reply is due under.
    mutating func awaitingReply() -> Int {
        slots.append(Slot())
        return headSequence + slots.count - 1
    }

    /// An EXPORT was read: its reply is streamed when every reply before it is out.
    mutating func awaitingExport(_ filter: RecordFilter) {
        slots.append(Slot(export: filter))
    }

    /// The streamed EXPORT at the head has written its last line (or its error): the replies after
    /// it may go.
    mutating func exportEnded() {
        guard !flow.isClosed, slots.first?.exportStarted == true else { return }
        slots.removeFirst()
        headSequence += 1
    }

    /// The reply of command `sequence` arrived. True when it is at the head, so replies can go
    /// out now (call `nextAction` until `.wait`).
    mutating func replyArrived(sequence: Int, _ reply: TextResponse) -> Bool {
        let index = sequence - headSequence
        guard !flow.isClosed, index >= 0, index < slots.count else { return false }
        slots[slots.index(slots.startIndex, offsetBy: index)].reply = reply
        return index == 0
    }

    /// Graceful shutdown (`DrainConnection`) or the client half-closed.
    mutating func drain(because reason: ConnectionFlow.DrainReason) {
        guard !flow.isClosed, finishing == nil || finishing == .shutdown else { return }
        _ = flow.startDraining()
        finishing = reason == .inputClosed ? .inputClosed : .shutdown
    }

    /// The channel asks to read. True when the read may go ahead; otherwise it is held.
    mutating func readRequested(writable: Bool) -> Bool {
        flow.readRequested(blocked: readsBlocked(writable: writable))
    }

    /// The channel went inactive (the peer closed, or we did): replies still arriving are dropped.
    mutating func channelClosed() {
        _ = flow.close()
        slots.removeAll()
        queued.removeAll()
        importing = nil
    }

    // MARK: Actions

    /// What to do next; call again after doing it, until `.wait`.
    mutating func nextAction(writable: Bool) -> Action {
        guard !flow.isClosed else { return .wait }
        while true {
            if let filter = slots.first?.export {
                guard slots.first!.exportStarted else {
                    slots[slots.startIndex].exportStarted = true
                    return .startExport(filter)
                }
            } else if let head = slots.first, let reply = head.reply {
                slots.removeFirst()
                headSequence += 1
                guard head.closesConnection else { return .write(reply) }
                close()
                return .writeAndClose(reply)
            }
            if let current = importing {
                // After a half-close, once every line read is taken: a body without its `.`.
                if finishing == .inputClosed, queued.isEmpty, current.body.isReadingBody { importing!.body.inputEnded() }
                switch importing!.body.nextAction() {
                case .send(let existing, let items): return .sendImportBatch(existing, items)
                case .finish(let reply):
                    importing = nil
                    _ = replyArrived(sequence: current.sequence, reply)
                    continue
                case .wait: break
                }
            }
            // Room again: lines read while the limit was reached are run (or refused) in order.
            guard finishing != .quit, takesLines, let next = queued.popFirst() else { break }
            switch next {
            case .line(let line):
                let action = take(line)
                if action != .wait { return action }
            case .refusal: slots.append(Slot(reply: Self.shuttingDown))
            }
        }
        if finishing != nil && slots.isEmpty && queued.isEmpty {
            close()
            return .close
        }
        return flow.releasesRead(blocked: readsBlocked(writable: writable)) ? .read : .wait
    }

    private var hasRoom: Bool { slots.count < maximumInFlight }

    /// Whether the next line can be taken: by the IMPORT reading its body when it has room for it
    /// (none once its body ended: later lines wait for its answer), else when a slot is free.
    private var takesLines: Bool {
        guard let importing else { return hasRoom }
        return importing.body.canTakeLine
    }

    /// Reads wait while too much is in flight or queued, or the peer is not reading its replies.
    /// After QUIT or a half-close nothing more is read; while shutting down reads go on (so late
    /// lines are told SHUTTING_DOWN) until the commands read before are answered.
    private func readsBlocked(writable: Bool) -> Bool {
        switch finishing {
        case .quit, .inputClosed: return true
        case .shutdown, nil: return !takesLines || !queued.isEmpty || !writable
        }
    }

    private mutating func close() {
        _ = flow.close()
        slots.removeAll()
        queued.removeAll()
        importing = nil
    }
}
