import EpilogueBenchWire
import Histogram
import NIOCore

/// The measured window, fixed once every connection is up.
struct LoadWindow: Sendable {
    var warmupEnd: UInt64
    var end: UInt64
}

/// What one connection saw inside the window.
struct ConnectionTally: Sendable {
    var completed = 0
    var errors = 0
    var empty = 0
    var perTemplate: [Int]
    var connectionError: String?
    var firstErrorReply: String?
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)

    init(templates: Int) { perTemplate = Array(repeating: 0, count: templates) }
}

/// One closed-loop connection: keeps `pipeline` requests in flight, and sends a new one for every
/// reply until the window ends. Latency runs from queueing the request to parsing the end of its
/// reply. Only touched on its channel's event loop (hence @unchecked Sendable).
final class LoadConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let source: RequestSource
    private let scanner: ReplyScanner
    private let pipeline: Int
    private var rng: SplitMix64
    private var window: LoadWindow?
    private var inbound: ByteBuffer?
    /// Send time and template of each request in flight, oldest first.
    private var inFlight: [(sent: UInt64, template: Int)] = []
    private var inFlightHead = 0
    private var scratch: [UInt8] = []
    private(set) var tally: ConnectionTally
    private var context: ChannelHandlerContext?
    private var exhausted = false

    init(source: RequestSource, framing: ReplyFraming, pipeline: Int, seed: UInt64) {
        self.source = source
        self.scanner = ReplyScanner(framing: framing)
        self.pipeline = pipeline
        self.rng = SplitMix64(state: seed)
        self.tally = ConnectionTally(templates: source.templates.count)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Starts the loop; called on the event loop once every connection is up.
    func start(_ window: LoadWindow) {
        guard let context else { return }
        self.window = window
        var out = context.channel.allocator.buffer(capacity: 4096)
        let now = monotonicNanoseconds()
        for _ in 0..<pipeline { enqueue(into: &out, now: now) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    private func enqueue(into out: inout ByteBuffer, now: UInt64) {
        scratch.removeAll(keepingCapacity: true)
        guard let template = source.render(into: &scratch, rng: &rng) else {
            exhausted = true
            return
        }
        out.writeBytes(scratch)
        inFlight.append((now, template))
    }

    /// --once: every record sent and answered (or the connection is gone).
    var finished: Bool { (exhausted && inFlightHead == inFlight.count) || tally.connectionError != nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = incoming
        } else {
            inbound!.writeBuffer(&incoming)
        }
        guard let window else { return }
        let now = monotonicNanoseconds()
        var out = context.channel.allocator.buffer(capacity: 0)
        var replies = 0
        while inbound!.readableBytes > 0 {
            let scanned = inbound!.withUnsafeReadableBytes { raw in Result { () throws(MalformedReply) in try scanner.scan(raw) } }
            if case .failure(let error) = scanned {
                fail(context, "malformed reply: \(error.description)")
                return
            }
            guard case .success(let whole) = scanned, let reply = whole else { break }
            guard inFlightHead < inFlight.count else {
                fail(context, "a reply with no request in flight")
                return
            }
            let request = inFlight[inFlightHead]
            inFlightHead += 1
            if now >= window.warmupEnd, now < window.end {
                tally.completed += 1
                tally.perTemplate[request.template] += 1
                _ = tally.histogram.record(now - request.sent)
                switch reply.outcome {
                case .ok: break
                case .empty: tally.empty += 1
                case .error:
                    tally.errors += 1
                    if tally.firstErrorReply == nil {
                        tally.firstErrorReply = inbound!.getString(at: inbound!.readerIndex, length: min(reply.length, 200))
                    }
                }
            }
            inbound!.moveReaderIndex(forwardBy: reply.length)
            replies += 1
            if now < window.end, !exhausted { enqueue(into: &out, now: now) }
        }
        if inFlightHead > 1024 || inFlightHead == inFlight.count {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
        if inbound!.readableBytes == 0 { inbound!.clear() } else if inbound!.readerIndex > 65_536 { inbound!.discardReadBytes() }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let window, monotonicNanoseconds() < window.end, tally.connectionError == nil {
            tally.connectionError = "the server closed the connection"
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ message: String) {
        if tally.connectionError == nil { tally.connectionError = message }
        context.close(promise: nil)
    }
}
