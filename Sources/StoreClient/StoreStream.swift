import NIOCore

/// The reader's hold on one long answer that runs on a store connection of its own
/// (`StoreClient.exportStream`): `pause()` when the reader's own output is full, `resume()` once it
/// drains, `cancel()` when the reader is gone. Pausing stops reading from that connection, so TCP
/// backpressure holds the store's stream (the store sends while its socket is writable); no other
/// request waits behind it, as one would on a shared connection.
///
/// While not paused, each frame must come within `idleTimeout` of the one before (the store's
/// request timeout, per frame rather than for the whole answer): then the stream fails with
/// `.timeout`. Paused, it waits for the reader as long as the reader takes.
///
/// Lives on one event loop, the stream connection's and its reader's: every method is called there.
public final class StoreStream: @unchecked Sendable {
    private let loop: any EventLoop
    private let idleTimeout: TimeAmount
    private var handler: StoreClientHandler?
    private var channel: (any Channel)?
    private var paused = false
    private var cancelled = false
    private var timer: Scheduled<Void>?
    /// Why this side ended the stream (a timeout, a record it could not read); reported in place
    /// of the connection's closing.
    private(set) var failure: StoreClientError?

    public init(loop: any EventLoop, idleTimeout: TimeAmount) {
        self.loop = loop
        self.idleTimeout = idleTimeout
    }

    public var isPaused: Bool { paused }

    public func pause() {
        loop.preconditionInEventLoop()
        guard !paused else { return }
        paused = true
        handler?.pauseReads()
        timer?.cancel()
        timer = nil
    }

    public func resume() {
        loop.preconditionInEventLoop()
        guard paused else { return }
        paused = false
        handler?.resumeReads()
        armTimer()
    }

    public func cancel() {
        loop.preconditionInEventLoop()
        cancelled = true
        end()
    }

    /// The stream's connection is up and its request sent.
    func attach(handler: StoreClientHandler, channel: any Channel) {
        self.handler = handler
        self.channel = channel
        if cancelled { return end() }
        if paused { handler.pauseReads() }
        armTimer()
    }

    func frameArrived() { armTimer() }

    func fail(_ error: StoreClientError) {
        if failure == nil { failure = error }
        end()
    }

    /// The answer is complete (or failed): no more timer; the connection is closed.
    func end() {
        timer?.cancel()
        timer = nil
        channel?.close(promise: nil)
    }

    private func armTimer() {
        timer?.cancel()
        timer = nil
        guard !paused, !cancelled, channel != nil else { return }
        let timeout = idleTimeout
        timer = loop.scheduleTask(in: timeout) { [self] in fail(.timeout(milliseconds: timeout.nanoseconds / 1_000_000)) }
    }
}
