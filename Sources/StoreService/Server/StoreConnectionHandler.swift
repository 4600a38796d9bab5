import EpilogueStorage
import EpilogueProtocol
import EpilogueServerKit
import Logging
import NIOCore
import NIOPosix

/// One store connection, on its event loop: frames go through the handshake state machine, reads
/// are answered inline but SEARCH, which runs on the search pool (so the loop goes on serving
/// GETs meanwhile), and writes are appended at once and answered when their fsync lands (so many
/// writes share one fsync). Answers may come back out of order — each carries its request id.
///
/// Answers are written as they are ready and flushed once per read burst or loop tick, so a
/// pipelining client costs one syscall per batch, not per request. When to read, refuse, drain and
/// close is `StoreConnectionStateMachine`'s decision; this handler serves and does what it returns.
final class StoreConnectionHandler: FlowControlledConnectionHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    private var machine: StoreConnectionStateMachine
    private let requests: StoreRequestHandler
    private let metrics: StoreMetrics
    /// The store never sends a frame longer than the maximum READY announced.
    private let maximumFrameSize: UInt32
    private var logger: Logger

    /// EXPORTs being streamed, oldest first; only the first sends (see `pumpExports`).
    private var exports: [ResponseStream] = []
    /// Frames of an EXPORT written per turn of the loop before yielding to other connections.
    static let exportChunk = 64
    /// A `pumpExports` is queued on the loop: writability changes must not start a second chain.
    private var exportPumpQueued = false
    private var pumping = false
    /// Several answers (or requests) usually complete in one loop tick: one flush after them.
    private let flusher = TickFlusher()
    /// Set while the client tracks (TRACK 1): its INVALIDATE pushes arrive through this.
    private var tracking: TrackingTable.Subscription?

    init(machine: StoreConnectionStateMachine, requests: StoreRequestHandler, metrics: StoreMetrics,
         maximumFrameSize: UInt32 = WireProtocol.defaultMaximumFrameSize, logger: Logger) {
        self.machine = machine
        self.maximumFrameSize = maximumFrameSize
        self.requests = requests
        self.metrics = metrics
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer"] = "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch machine.frameReceived(frame) {
        case .ignore:
            break
        case .send(let message, let requestID):
            context.write(wrapOutboundOut(message.frame(requestID: requestID)), promise: nil)
        case .sendAndClose(let message, let requestID):
            sendAndClose(context: context, message, requestID: requestID)
        case .refuse(let request, let message, let requestID):
            // Draining: the client learns this request was not served.
            let refusal = message.frame(requestID: requestID)
            metrics.served(request.type, frames: [refusal], nanoseconds: 0)
            context.write(wrapOutboundOut(refusal), promise: nil)
            flusher.flushSoon(context)
        case .serve(let request, let requestID):
            serve(context: context, request, requestID: requestID, traceID: frame.traceID)
        }
    }

    private func serve(context: ChannelHandlerContext, _ request: ClientMessage, requestID: UInt32, traceID: UInt64?) {
        let started = NIODeadline.now()
        if case .track(let mode) = request {
            setTracking(mode, context: context)
            let frames = [ServerMessage.tracking(mode).frame(requestID: requestID)]
            served(request, requestID: requestID, traceID: traceID, frames: frames, started: started)
            context.write(wrapOutboundOut(frames[0]), promise: nil)
            return
        }
        if StoreRequestHandler.isStream(request) {
            let stream = requests.startStream(request, requestID: requestID, clientDictionaries: machine.clientDictionaries)
            exports.append(stream)
            if case .preparingBackup(let source, _) = stream { prepareBackup(source, requestID: requestID, context: context) }
            metrics.served(request.type, frames: [], nanoseconds: (NIODeadline.now() - started).nanoseconds)
            if exports.count == 1 { pumpExports(context: context) }
            return
        }
        guard StoreRequestHandler.isAnsweredLater(request) else {
            let frames = requests.respondToReadCatchingErrors(request, requestID: requestID, clientDictionaries: machine.clientDictionaries)
                .map { StoreRequestHandler.fitting($0, maximumFrameSize: maximumFrameSize) }
            served(request, requestID: requestID, traceID: traceID, frames: frames, started: started)
            for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
            return
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        let answer: @Sendable ([Frame]) -> Void = { frames in
            // Called from the fsync thread or the search pool (or at once): hop back to our loop.
            loop.execute {
                let (handler, context) = bound.value
                handler.laterAnswerReady(context: context, request, requestID: requestID, traceID: traceID,
                                         frames: frames, started: started)
            }
        }
        if StoreRequestHandler.isWrite(request) {
            requests.respondToWrite(request, requestID: requestID, completion: answer)
        } else {
            let maximumFrameSize = self.maximumFrameSize
            requests.respondOffLoop(request, requestID: requestID, clientDictionaries: machine.clientDictionaries) { frames in
                answer(frames.map { StoreRequestHandler.fitting($0, maximumFrameSize: maximumFrameSize) })
            }
        }
    }

    /// TRACK: subscribes before TRACKING is answered, so every write made durable after the client
    /// reads TRACKING is pushed to it (PROTOCOL.md, "Tracking").
    private func setTracking(_ mode: TrackingMode, context: ChannelHandlerContext) {
        switch mode {
        case .broadcast where tracking == nil:
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            tracking = requests.tracking.subscribe(loop: context.eventLoop) {
                let (handler, context) = bound.value
                handler.pushInvalidations(context: context)
            }
        case .off:
            stopTracking()
        case .broadcast:
            break
        }
        metrics.trackingConnections.record(requests.tracking.count)
    }

    private func stopTracking() {
        guard let subscription = tracking else { return }
        requests.tracking.unsubscribe(subscription)
        tracking = nil
        metrics.trackingConnections.record(requests.tracking.count)
    }

    /// INVALIDATE pushes (request id 0), flushed at once: a writer's answer queued after them on
    /// this loop must not overtake them. A peer that does not read gets them once it drains, so
    /// they wait in the bounded batch rather than in the channel's unbounded outbound buffer.
    private func pushInvalidations(context: ChannelHandlerContext) {
        guard let subscription = tracking, !machine.isClosed else { return }
        guard context.channel.isWritable else { return subscription.hold() }
        let messages = subscription.take()
        guard !messages.isEmpty else { return }
        for message in messages {
            if case .invalidate(let ids) = message { metrics.invalidationsPushed.increment(by: max(ids.count, 1)) }
            context.write(wrapOutboundOut(message.frame(requestID: 0)), promise: nil)
        }
        context.flush()
    }

    /// Writes a BACKUP's index snapshot on NIO's blocking-I/O thread pool (seconds at 1M records:
    /// never on this loop), then lets its stream send, in its place among this connection's streams.
    private func prepareBackup(_ source: Backup.Source, requestID: UInt32, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let logger = logger
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) { source.prepareSnapshot() }.whenComplete { result in
            let (handler, context) = bound.value
            if case .success(let failure?) = result {
                logger.warning("backup goes without its index snapshot; a store started on it rebuilds the indexes",
                               metadata: ["error": "\(failure)"])
            }
            // Gone when the connection closed meanwhile.
            guard let position = handler.exports.firstIndex(where: { $0.requestID == requestID }) else { return }
            handler.exports[position] = .backup(BackupStream(source: source, requestID: requestID))
            handler.pumpExports(context: context)
        }
    }

    /// Sends the current EXPORT a chunk at a time: while the channel is writable, one chunk per
    /// loop turn (other connections run in between); when it is not (the peer reads slower than
    /// we send), `channelWritabilityChanged` resumes. Memory stays at a chunk plus NIO's
    /// high-water mark of unsent bytes, whatever the export's size.
    private func pumpExports(context: ChannelHandlerContext) {
        // A flush can re-enter (writability changes, the peer resets): one pump at a time.
        guard !pumping, !machine.isClosed, !exports.isEmpty, context.channel.isWritable else { return }
        // A BACKUP still writing its snapshot: `prepareBackup` pumps again when it is written.
        if case .preparingBackup = exports[0] { return }
        pumping = true
        let frames = exports[0].nextFrames(maximum: Self.exportChunk)
        let finished = exports[0].isFinished
        for frame in frames { context.write(wrapOutboundOut(StoreRequestHandler.fitting(frame, maximumFrameSize: maximumFrameSize)), promise: nil) }
        context.flush()
        pumping = false
        guard !machine.isClosed, !exports.isEmpty else { return }
        if finished {
            if machine.answered(requestID: exports.removeFirst().requestID) {
                context.close(promise: nil)
                return
            }
            resumeReadsIfPossible(context: context)
            if exports.isEmpty { return }
        }
        guard !exportPumpQueued else { return }
        exportPumpQueued = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.exportPumpQueued = false
            handler.pumpExports(context: context)
        }
    }

    private func laterAnswerReady(context: ChannelHandlerContext, _ request: ClientMessage, requestID: UInt32, traceID: UInt64?,
                                  frames: [Frame], started: NIODeadline) {
        let open = !machine.isClosed
        let drained = machine.answered(requestID: requestID)
        served(request, requestID: requestID, traceID: traceID, frames: frames, started: started)
        if open {
            for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
            flusher.flushSoon(context)
        }
        if drained {
            context.flush()
            context.close(promise: nil)
        } else {
            resumeReadsIfPossible(context: context)
        }
    }

    private func served(_ request: ClientMessage, requestID: UInt32, traceID: UInt64?, frames: [Frame], started: NIODeadline) {
        let nanoseconds = (NIODeadline.now() - started).nanoseconds
        metrics.served(request.type, frames: frames, nanoseconds: nanoseconds)
        if logger.logLevel <= .debug {
            var logger = logger
            if let traceID { logger[metadataKey: "trace_id"] = "\(TraceID.format(traceID))" }
            logger.debug("request served", metadata: ["type": "\(request.type.name)", "request_id": "\(requestID)",
                                                      "frames": "\(frames.count)", "micros": "\(nanoseconds / 1_000)"])
        }
    }

    private func sendAndClose(context: ChannelHandlerContext, _ message: ServerMessage, requestID: UInt32) {
        logger.info("closing connection", metadata: ["reason": "\(message)"])
        context.writeAndClose(wrapOutboundOut(message.frame(requestID: requestID)))
    }

    // MARK: Backpressure and shutdown (FlowControlledConnectionHandler)

    private func resumeReadsIfPossible(context: ChannelHandlerContext) {
        if machine.releasesRead(writable: context.channel.isWritable) { context.read() }
    }

    func readRequested(context: ChannelHandlerContext) -> Bool {
        machine.readRequested(writable: context.channel.isWritable)
    }

    func writabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pushInvalidations(context: context) }
        if context.channel.isWritable { pumpExports(context: context) }
        resumeReadsIfPossible(context: context)
    }

    func drain(context: ChannelHandlerContext, because reason: ConnectionFlow.DrainReason) {
        // No new requests (those still arriving get SHUTTING_DOWN); close once the writes in
        // flight are answered.
        if machine.drain() {
            context.flush()
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !machine.isClosed else { return }
        // Errors from the frame decoder: a bad length or flags. Answer once, then close.
        if case .sendAndClose(let message, let requestID) = machine.framingFailed(error) {
            sendAndClose(context: context, message, requestID: requestID)
        } else {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTracking()
        machine.channelClosed()
        context.fireChannelInactive()
    }
}
