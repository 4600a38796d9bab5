import EpilogueProtocol
import EpilogueServerKit
import EpilogueStoreClient
import Logging
import Metrics
import NIOCore

/// One client connection of the gateway, on its event loop. Each line is planned by the
/// `GatewaySession` as it is read; commands that need the store are sent at once, so a client
/// that pipelines gets its commands served concurrently. Which reply goes out when, when reads
/// wait and when the connection closes is `GatewayConnectionStateMachine`'s decision: this
/// handler runs commands and does what the machine returns.
///
/// Replies are flushed once per read burst or loop tick.
final class GatewayConnectionHandler: FlowControlledConnectionHandler {
    typealias InboundIn = LineEvent
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: GatewayConnectionStateMachine
    private var session: GatewaySession
    /// Where this connection's store requests go (its `StoreLane`; answers by hand in tests).
    private let store: any StoreRequester
    private let figures: @Sendable () -> [(name: String, value: String)]
    private let logger: Logger
    /// Several answers (or requests) usually complete in one loop tick: one flush after them.
    private let flusher = TickFlusher()

    init(session: GatewaySession, maximumInFlight: Int, logger: Logger,
         figures: @escaping @Sendable () -> [(name: String, value: String)], store: any StoreRequester) {
        self.machine = GatewayConnectionStateMachine(maximumInFlight: maximumInFlight)
        self.session = session
        self.store = store
        self.logger = logger
        self.figures = figures
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .run(let line) = machine.lineRead(unwrapInboundIn(data)) { run(line, context: context) }
        executeActions(context: context)
    }

    /// Plans one line and either records its reply or sends its request to the store.
    private func run(_ line: LineEvent, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let (command, step) = session.plan(line, gatewayFigures: figures)
        switch step {
        case .none:
            return
        case .reply(let response, let close):
            machine.replied(response, closesConnection: close)
            record(command: command, response: response, started: started, traceID: nil)
        case .ask(let call):
            let sequence = machine.awaitingReply()
            let traceID = TraceID.make()
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            call.send(store, traceID).hop(to: context.eventLoop).whenSuccess { response in
                let (handler, context) = bound.value
                handler.record(command: command, response: response, started: started, traceID: traceID)
                if handler.machine.replyArrived(sequence: sequence, response) {
                    handler.executeActions(context: context)
                    handler.flusher.flushSoon(context)
                }
            }
        }
    }

    /// Does what the machine asks until it waits for the next event.
    private func executeActions(context: ChannelHandlerContext) {
        while true {
            switch machine.nextAction(writable: context.channel.isWritable) {
            case .write(let reply):
                context.write(wrapOutboundOut(buffer(reply, context: context)), promise: nil)
            case .writeAndClose(let reply):
                return context.writeAndClose(wrapOutboundOut(buffer(reply, context: context)))
            case .close:
                return context.writeAndClose(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
            case .run(let line):
                run(line, context: context)
            case .read:
                return context.read()
            case .wait:
                return
            }
        }
    }

    private func buffer(_ reply: TextResponse, context: ChannelHandlerContext) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: 512)
        reply.write(into: &buffer)
        return buffer
    }

    private func record(command: String, response: TextResponse, started: NIODeadline, traceID: UInt64?) {
        GatewayMetrics.shared.served(command: command, errorCode: response.errorCode, nanoseconds: (NIODeadline.now() - started).nanoseconds)
        if let code = response.errorCode {
            logger.info("command failed", metadata: ["command": "\(command)", "code": "\(code.rawValue)",
                                                     "trace_id": "\(traceID.map(TraceID.format) ?? "-")"])
        } else if logger.logLevel <= .debug {
            logger.debug("command served", metadata: ["command": "\(command)", "trace_id": "\(traceID.map(TraceID.format) ?? "-")"])
        }
    }

    // MARK: Backpressure and shutdown (FlowControlledConnectionHandler)

    func readRequested(context: ChannelHandlerContext) -> Bool {
        machine.readRequested(writable: context.channel.isWritable)
    }

    func writabilityChanged(context: ChannelHandlerContext) {
        executeActions(context: context)
    }

    func drain(context: ChannelHandlerContext, because reason: ConnectionFlow.DrainReason) {
        machine.drain(because: reason)
        executeActions(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        machine.channelClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection ended with an error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }
}

/// What runs a connection's typed store requests: a `StoreLane` in production, answers given by
/// hand in tests.
protocol StoreRequester {
    /// Sends `request` at once; the future fails only with `StoreClientError`.
    func send<Answer>(_ request: StoreRequest<Answer>, traceID: UInt64) -> EventLoopFuture<Answer>
}

/// Sends one client connection's store requests through the `StoreClient`, all on one store
/// connection (its lane), so the store applies them in the order the client sent them (see
/// `StoreClient.send`). Loop-bound, like the handler that uses it.
final class StoreLane: StoreRequester {
    private let client: StoreClient
    private let loop: any EventLoop
    private var lane: Int?

    init(client: StoreClient, loop: any EventLoop) {
        self.client = client
        self.loop = loop
    }

    func send<Answer>(_ request: StoreRequest<Answer>, traceID: UInt64) -> EventLoopFuture<Answer> {
        if lane == nil { lane = client.lane(preferring: loop) }
        return client.send(request, traceID: traceID, lane: lane, preferring: loop)
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

    func served(command: String, errorCode: TextErrorCode?, nanoseconds: Int64) {
        let instrument = instruments.instrument(for: command) {
            Instruments(
                commands: Counter(label: "epilogue_gateway_commands_total", dimensions: [("command", command)]),
                duration: Timer(label: "epilogue_gateway_command_duration_seconds", dimensions: [("command", command)],
                                preferredDisplayUnit: .seconds))
        }
        instrument.commands.increment()
        instrument.duration.recordNanoseconds(nanoseconds)
        if let code = errorCode?.rawValue {
            errors.instrument(for: code) { Counter(label: "epilogue_gateway_errors_total", dimensions: [("code", code)]) }.increment()
        }
    }
}
