import NIOCore

/// What the line decoder hands up: a line, or word that a line was too long.
enum LineEvent: Equatable, Sendable {
    /// One line without its LF (a CR before the LF is still there; the parser drops it).
    case line(ByteBuffer)
    /// A line exceeded the limit; its bytes were discarded up to and including its LF, so the
    /// connection goes on with the next line.
    case tooLong(limit: Int)
}

/// Splits input at LF with a hard bound on line length. Unlike wrapping NIOExtras'
/// `LineBasedFrameDecoder` in a bounded `ByteToMessageHandler`, an over-long line here does not
/// poison the connection: the line is skipped and reported, and the next one is read normally.
/// Memory stays bounded too: an over-long line is dropped as it arrives, never buffered whole.
struct BoundedLineDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = LineEvent

    let maximumLineLength: Int
    /// True while discarding the rest of an over-long line.
    private var discarding = false
    /// Bytes already scanned for LF in the buffered partial line, so a slow line isn't rescanned.
    private var scanned = 0

    init(maximumLineLength: Int) {
        self.maximumLineLength = maximumLineLength
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> LineEvent? {
        let view = buffer.readableBytesView
        let start = view.startIndex
        if let newline = view[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - start
            scanned = 0
            if discarding {
                discarding = false
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .tooLong(limit: maximumLineLength)
            }
            if length > maximumLineLength {
                buffer.moveReaderIndex(forwardBy: length + 1)
                return .tooLong(limit: maximumLineLength)
            }
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            return .line(line)
        }
        if view.count > maximumLineLength {
            // No LF yet and already too long: drop what we have and skip to the next LF.
            discarding = true
            buffer.moveReaderIndex(forwardBy: view.count)
            scanned = 0
            return nil
        }
        scanned = view.count
        return nil
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> LineEvent? {
        if let event = try decode(buffer: &buffer) { return event }
        // A last line without LF at EOF still counts (e.g. `printf 'PING' | nc`).
        guard !discarding, buffer.readableBytes > 0 else {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return nil
        }
        let line = buffer.readSlice(length: buffer.readableBytes)!
        scanned = 0
        return .line(line)
    }
}
