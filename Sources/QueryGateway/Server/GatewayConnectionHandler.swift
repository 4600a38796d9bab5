import EpilogueModel
import EpilogueProtocol
import EpilogueServerKit
import EpilogueStoreClient
import Logging
import EpilogueShared
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
    /// The EXPORT being streamed (the head reply while it runs), whether its status line is out,
    /// and the bytes it wrote to the socket that have not gone out yet.
    private var export: StoreStream?
    private var exportStatusWritten = false
    private var exportBufferedBytes = 0
    private let exportBuffer: ExportBufferGauge

    init(session: GatewaySession, maximumInFlight: Int, logger: Logger,
         figures: @escaping @Sendable () -> [(name: String, value: String)], store: any StoreRequester,
         exportBuffer: ExportBufferGauge = ExportBufferGauge()) {
        self.exportBuffer = exportBuffer
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
        case .startImport(let body):
            machine.importStarted(body)
        case .export(let filter):
            machine.awaitingExport(filter)
        }
    }

    // MARK: EXPORT, streamed

    /// Streams EXPORT's records as JSON lines (whatever FORMAT says: the output is for files and
    /// IMPORT) as the store sends them, on a store connection of the export's own. When more than
    /// `exportPauseBytes` of it wait to go out to the client, the store's stream is paused until
    /// they drain, so a slow reader costs the gateway a bounded buffer, never the whole export.
    private func startExport(_ filter: RecordFilter, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        exportStatusWritten = false
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let (stream, done) = store.exportStream(filter, on: context.eventLoop) { record in
            let (handler, context) = bound.value
            var buffer = context.channel.allocator.buffer(capacity: TextRenderer.estimatedSize(of: record))
            handler.writeExportStatusIfNeeded(into: &buffer)
            // Straight into the buffer that goes out: a JSON line has no break and starts with `{`.
            TextRenderer.writeJSON(record, into: &buffer)
            buffer.writeStaticString("\r\n")
            handler.writeExport(buffer, context: context)
        }
        export = stream
        done.hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.export = nil
            var buffer = context.channel.allocator.buffer(capacity: 256)
            let response: TextResponse
            switch result {
            case .success:
                response = .ok(Self.exportSummary)
                handler.writeExportStatusIfNeeded(into: &buffer)
                TextResponse.writeTerminator(into: &buffer)
            case .failure(let error):
                response = GatewaySession.reply(to: error as? StoreClientError ?? .unavailable("\(error)"))
                guard !handler.exportStatusWritten else {
                    // Records already went out under OK: without its `.` the client sees a cut
                    // answer, never a short one taken for whole (TEXT_PROTOCOL.md, EXPORT).
                    handler.logger.warning("export failed after it started; closing the connection", metadata: ["error": "\(error)"])
                    handler.record(command: "EXPORT", response: response, started: started, traceID: nil)
                    return context.close(promise: nil)
                }
                response.write(into: &buffer)
            }
            handler.record(command: "EXPORT", response: response, started: started, traceID: nil)
            handler.writeExport(buffer, context: context)
            handler.machine.exportEnded()
            handler.executeActions(context: context)
        }
    }

    static let exportSummary = "records follow, one JSON object per line"

    private func writeExportStatusIfNeeded(into buffer: inout ByteBuffer) {
        guard !exportStatusWritten else { return }
        exportStatusWritten = true
        buffer.writeString(TextResponse.ok(Self.exportSummary).statusLine)
        buffer.writeStaticString("\r\n")
    }

    /// Writes part of the streamed export, counting it as buffered until it has gone out; pauses
    /// the store's stream once the socket is not writable.
    private func writeExport(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        let bytes = buffer.readableBytes
        exportBufferedBytes += bytes
        exportBuffer.observe(exportBufferedBytes)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenComplete { _ in bound.value.exportWentOut(bytes) }
        context.write(wrapOutboundOut(buffer), promise: written)
        flusher.flushSoon(context)
        if exportBufferedBytes > Self.exportPauseBytes, let export, !export.isPaused {
            exportBuffer.paused()
            export.pause()
        }
    }

    /// Past this many bytes of the export written and not yet gone out, the store's stream is
    /// paused; below a quarter of it, resumed. Counted on the bytes themselves rather than on the
    /// socket's writability, so the bound holds whatever the watermarks and however the writes are
    /// flushed; what arrives after a pause is at most the store connection's last read.
    static let exportPauseBytes = 256 << 10

    private func exportWentOut(_ bytes: Int) {
        exportBufferedBytes -= bytes
        if exportBufferedBytes < Self.exportPauseBytes / 4, let export, export.isPaused { export.resume() }
    }

    /// Sends one IMPORT batch; the next is sent only once this one is answered (`GatewayImport`).
    private func sendImportBatch(_ existing: ImportExisting, _ items: [ImportItem], context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        store.send(.import(existing, items), traceID: TraceID.make()).hop(to: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.machine.importBatchAnswered(result.mapError { $0 as? StoreClientError ?? .unavailable("\($0)") })
            handler.executeActions(context: context)
            handler.flusher.flushSoon(context)
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
            case .startExport(let filter):
                startExport(filter, context: context)
            case .sendImportBatch(let existing, let items):
                sendImportBatch(existing, items, context: context)
            case .wait:
                return
            }
        }
    }

    private func buffer(_ reply: TextResponse, context: ChannelHandlerContext) -> ByteBuffer {
        var buffer = context.channel.allocator.buffer(capacity: reply.wireSizeEstimate)
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
        export?.cancel()
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
    /// EXPORT on a store connection of its own on `loop` (`StoreClient.exportStream`): each record
    /// goes to `receive` on `loop`; the future ends the stream.
    func exportStream(_ filter: RecordFilter, on loop: any EventLoop,
                      receive: @escaping @Sendable (Record) -> Void) -> (StoreStream, EventLoopFuture<Void>)
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

    func exportStream(_ filter: RecordFilter, on loop: any EventLoop,
                      receive: @escaping @Sendable (Record) -> Void) -> (StoreStream, EventLoopFuture<Void>) {
        let stream = StoreStream(loop: loop, idleTimeout: client.configuration.requestTimeout)
        return (stream, client.exportStream(filter, on: loop, stream: stream, receive: receive))
    }
}

/// The most bytes a streamed EXPORT had written to its client's socket that had not gone out yet,
/// over every connection of a gateway: the buffer a slow reader costs (tests read it; bounded by
/// pausing the store's stream, not by the size of the export).
public final class ExportBufferGauge: Sendable {
    private let peak = Locked(0)

    private let pauses = Locked(0)

    public init() {}

    public var peakBytes: Int { peak.withLock { $0 } }

    /// How many times a slow reader made an EXPORT pause the store's stream.
    public var pauseCount: Int { pauses.withLock { $0 } }

    func observe(_ bytes: Int) {
        peak.withLock { $0 = max($0, bytes) }
    }

    func paused() {
        pauses.withLock { $0 += 1 }
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
