import EpilogueProtocol
import EpilogueServerKit
import EpilogueStoreClient
import Logging
import Metrics
import NIOCore

/// One client connection of the gateway, on its event loop. Each line is planned by the
/// `GatewaySession` as it is read; commands that need the store are sent at once, so a client
/// that pipelines gets its commands served concurrently, and the replies are written strictly in
/// command order (a reply waits for the ones before it).
///
/// Replies are flushed once per read burst or loop tick. Backpressure: with too many commands in
/// flight, or a client that does not read its replies, the handler stops reading.
final class GatewayConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = LineEvent
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A command's place in the reply order; `reply` is nil until it is answered.
    private struct Slot {
        var reply: TextResponse?
        var close = false
    }

    private var session: GatewaySession
    private let pool: StorePool
    private let figures: @Sendable () -> [(name: String, value: String)]
    private let maximumInFlight: Int
    private let logger: Logger

    /// The store connection this client's commands go through, so the store applies them in the
    /// order they were sent (see `StorePool.send`).
    private var lane: Int?
    private var slots = CircularBuffer<Slot>()
    /// Sequence number of `slots.first`.
    private var headSequence = 0
    private var reads = ReadGate()
    /// Several answers (or requests) usually complete in one loop tick: one flush after them.
    private let flusher = TickFlusher()
    /// Lines read while `maximumInFlight` commands were waiting: one socket read can hold many
    /// lines, so the read gate alone would not bound the commands in flight. Served in order as
    /// replies go out; reads stay stopped while any wait here.
    private var queued = CircularBuffer<LineEvent>()
    /// QUIT was read, the client half-closed, or the gateway is shutting down: no more commands.
    private var finishing = false
    /// QUIT was read: nothing after it is executed, queued lines included.
    private var quit = false
    private var closed = false

    init(session: GatewaySession, pool: StorePool, maximumInFlight: Int, logger: Logger,
         figures: @escaping @Sendable () -> [(name: String, value: String)]) {
        self.session = session
        self.pool = pool
        self.maximumInFlight = maximumInFlight
        self.logger = logger
        self.figures = figures
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finishing, !closed else { return }
        let event = unwrapInboundIn(data)
        guard slots.count < maximumInFlight, queued.isEmpty else {
            queued.append(event)
            return
        }
        handle(context: context, event)
        writeReadyReplies(context: context)
    }

    /// Plans one line and either queues its reply or sends its request to the store.
    private func handle(context: ChannelHandlerContext, _ event: LineEvent) {
        let started = NIODeadline.now()
        let (command, step) = session.plan(event, gatewayFigures: figures)
        switch step {
        case .none:
            return
        case .reply(let response, let close):
            slots.append(Slot(reply: response, close: close))
            record(command: command, response: response, started: started, traceID: nil)
            if close {
                finishing = true
                quit = true
                queued.removeAll()
            }
        case .ask(let message, let render):
            let sequence = headSequence + slots.count
            slots.append(Slot())
            let traceID = TraceID.make()
            let loop = context.eventLoop
            let bound = NIOLoopBound((self, context), eventLoop: loop)
            if lane == nil { lane = pool.lane(preferring: loop) }
            pool.send(message, traceID: traceID, lane: lane, preferring: loop).hop(to: loop).whenComplete { result in
                let (handler, context) = bound.value
                let response = render(result)
                handler.record(command: command, response: response, started: started, traceID: traceID)
                handler.answered(context: context, sequence: sequence, response: response)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
        context.fireChannelReadComplete()
    }

    private func answered(context: ChannelHandlerContext, sequence: Int, response: TextResponse) {
        let index = sequence - headSequence
        guard index >= 0, index < slots.count else { return }
        slots[slots.index(slots.startIndex, offsetBy: index)].reply = response
        if index == 0 {
            writeReadyReplies(context: context)
            flusher.flushSoon(context)
        }
    }

    /// Writes the replies at the head of the order that are ready; closes after QUIT's reply, or
    /// once everything is answered when finishing.
    private func writeReadyReplies(context: ChannelHandlerContext) {
        while true {
            while let first = slots.first, let reply = first.reply {
                slots.removeFirst()
                headSequence += 1
                if !closed {
                    var buffer = context.channel.allocator.buffer(capacity: 512)
                    reply.write(into: &buffer)
                    context.write(wrapOutboundOut(buffer), promise: nil)
                }
                if first.close { return closeAfterFlush(context: context) }
            }
            // Room again: serve lines that were read while the limit was reached.
            guard !quit, !closed, slots.count < maximumInFlight, let next = queued.popFirst() else { break }
            handle(context: context, next)
        }
        if finishing && slots.isEmpty && queued.isEmpty { return closeAfterFlush(context: context) }
        resumeReadsIfPossible(context: context)
    }

    private func closeAfterFlush(context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        finishing = true
        slots.removeAll()
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func record(command: String, response: TextResponse, started: NIODeadline, traceID: UInt64?) {
        GatewayMetrics.shared.served(command: command, errorCode: response.errorCode, nanoseconds: (NIODeadline.now() - started).nanoseconds)
        if let code = response.errorCode {
            logger.info("command failed", metadata: ["command": "\(command)", "code": "\(code)",
                                                     "trace_id": "\(traceID.map(TraceID.format) ?? "-")"])
        } else if logger.logLevel <= .debug {
            logger.debug("command served", metadata: ["command": "\(command)", "trace_id": "\(traceID.map(TraceID.format) ?? "-")"])
        }
    }

    // MARK: Backpressure and shutdown

    /// Reads wait while too much is in flight, the peer is not reading, or the connection is finishing.
    private func readsBlocked(_ context: ChannelHandlerContext) -> Bool {
        finishing || slots.count >= maximumInFlight || !queued.isEmpty || !context.channel.isWritable
    }

    private func resumeReadsIfPossible(context: ChannelHandlerContext) {
        if reads.releasesRead(blocked: readsBlocked(context)) { context.read() }
    }

    func read(context: ChannelHandlerContext) {
        if reads.allowsRead(blocked: readsBlocked(context)) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadsIfPossible(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown, or a client that half-closed after sending (`nc -q`, scripts): answer
        // what was read, then close.
        if event is DrainConnection || (event as? ChannelEvent) == .inputClosed {
            finishing = true
            writeReadyReplies(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection ended with an error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// The gateway's per-command metrics (names in docs/OPERATIONS.md), made once per command name.
final class GatewayMetrics: Sendable {
    static let shared = GatewayMetrics()

    private struct Instruments {
        var commands: Counter
        var duration: Timer
    }

    private let instruments = InstrumentCache<String, Instruments>()
    private let errors = InstrumentCache<String, Counter>()

    func served(command: String, errorCode: String?, nanoseconds: Int64) {
        let instrument = instruments.instrument(for: command) {
            Instruments(
                commands: Counter(label: "epilogue_gateway_commands_total", dimensions: [("command", command)]),
                duration: Timer(label: "epilogue_gateway_command_duration_seconds", dimensions: [("command", command)],
                                preferredDisplayUnit: .seconds))
        }
        instrument.commands.increment()
        instrument.duration.recordNanoseconds(nanoseconds)
        if let errorCode {
            errors.instrument(for: errorCode) { Counter(label: "epilogue_gateway_errors_total", dimensions: [("code", errorCode)]) }.increment()
        }
    }
}
