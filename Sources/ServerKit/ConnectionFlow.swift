import NIOCore

/// The lifecycle and read backpressure of one server connection, as both services apply them:
/// a value type that a connection's state machine owns, so the rules are written once.
///
///     open --drain (graceful shutdown, or the client half-closed)--> draining --> closed
///       \-----------------------------------------------------------------------/
///
/// Reads: while the connection is blocked (too much in flight, a peer that does not read its
/// answers) a read the channel asks for is held; once it unblocks, the held read is issued.
public struct ConnectionFlow: Sendable {
    public enum Phase: Sendable, Equatable {
        case open
        /// No new work is started; what was taken is answered, then the connection closes.
        case draining
        case closed
    }

    public private(set) var phase: Phase = .open
    private var readHeld = false

    public init() {}

    public var isDraining: Bool { phase == .draining }
    public var isClosed: Bool { phase == .closed }

    /// From `read(context:)`: true when the read may go ahead now; otherwise it is held.
    public mutating func readRequested(blocked: Bool) -> Bool {
        if blocked { readHeld = true }
        return !blocked && !isClosed
    }

    /// When the blocking condition may have cleared: true when a held read should be issued now.
    public mutating func releasesRead(blocked: Bool) -> Bool {
        guard readHeld, !blocked, !isClosed else { return false }
        readHeld = false
        return true
    }

    /// Graceful shutdown or half-close: true the first time, when the caller should start draining.
    public mutating func startDraining() -> Bool {
        guard phase == .open else { return false }
        phase = .draining
        return true
    }

    /// True the first time, when the caller should close the channel.
    public mutating func close() -> Bool {
        guard phase != .closed else { return false }
        phase = .closed
        return true
    }

    /// Why a connection is asked to drain.
    public enum DrainReason: Sendable, Equatable {
        /// The server's graceful shutdown (`DrainConnection`).
        case shutdown
        /// The client half-closed after sending (`nc -q`, scripts): it still gets its answers.
        case inputClosed
    }

    /// Whether a pipeline event asks the connection to drain, and why.
    public static func drainReason(for event: Any) -> DrainReason? {
        if event is DrainConnection { return .shutdown }
        if (event as? ChannelEvent) == .inputClosed { return .inputClosed }
        return nil
    }
}

/// The channel side of `ConnectionFlow` that both services' connection handlers share: held
/// reads, one flush per read burst, and draining on shutdown or half-close. A conforming handler
/// says when reads may go on and how it drains; these defaults do the rest.
public protocol FlowControlledConnectionHandler: ChannelDuplexHandler {
    /// From `read(context:)`: true when the read may go ahead now. A false one is held, and the
    /// handler issues it itself once it may (from `writabilityChanged` or when its work drains).
    func readRequested(context: ChannelHandlerContext) -> Bool
    /// The channel's writability changed: resume held reads (and whatever else was waiting).
    func writabilityChanged(context: ChannelHandlerContext)
    /// Graceful shutdown or half-close: take no new work, answer what was taken, then close.
    func drain(context: ChannelHandlerContext, because reason: ConnectionFlow.DrainReason)
}

extension FlowControlledConnectionHandler {
    public func read(context: ChannelHandlerContext) {
        if readRequested(context: context) { context.read() }
    }

    /// Answers written while a burst of reads was handled go out in one flush after it.
    public func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        writabilityChanged(context: context)
        context.fireChannelWritabilityChanged()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let reason = ConnectionFlow.drainReason(for: event) {
            drain(context: context, because: reason)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

extension ChannelHandlerContext {
    /// Writes `last` and closes once it (and everything written before it) has gone out or failed.
    public func writeAndClose(_ last: NIOAny) {
        writeAndFlush(last).assumeIsolated().whenComplete { [self] _ in close(promise: nil) }
    }
}
