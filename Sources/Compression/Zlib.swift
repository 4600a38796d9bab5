import CZlib

/// Errors from the zlib wrapper. Corrupt input is always an error, never a trap.
public enum ZlibError: Error, Equatable, CustomStringConvertible {
    case initFailed(code: Int32)
    case streamError(code: Int32, message: String)
    case dictionaryMismatch
    case truncatedInput
    case outputTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .initFailed(let code): return "zlib init failed (\(code))"
        case .streamError(let code, let message): return "zlib error \(code): \(message)"
        case .dictionaryMismatch: return "zlib stream needs a different preset dictionary"
        case .truncatedInput: return "zlib stream is truncated"
        case .outputTooLarge(let limit): return "inflated data exceeds \(limit) bytes"
        }
    }
}

/// The one place Epilogue talks to zlib: raw deflate/inflate of whole buffers with an optional
/// preset dictionary, plus the checksums. Streams use the zlib format (RFC 1950) so a wrong
/// dictionary is detected by its Adler-32 id instead of producing garbage.
public enum Zlib {
    /// Compresses `input`. With a dictionary, the stream references it by Adler-32 id.
    /// `raw` leaves out the zlib header and Adler-32 trailer (RFC 1951 only): 6 bytes less per
    /// stream (10 with a dictionary), but a wrong dictionary is then no longer detected by the stream itself.
    /// `tuning` overrides the level's match search (zlib's `deflateTune`).
    public static func compress(_ input: [UInt8], dictionary: [UInt8]? = nil, level: Int32 = 6, raw: Bool = false,
                                tuning: Tuning? = nil) throws -> [UInt8] {
        var stream = z_stream()
        var rc = deflateInit2_(&stream, level, Z_DEFLATED, raw ? -MAX_WBITS : MAX_WBITS, 9, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
        defer { deflateEnd(&stream) }
        if let tuning {
            deflateTune(&stream, tuning.goodLength, tuning.maxLazy, tuning.niceLength, tuning.maxChain)
        }
        if let dictionary, !dictionary.isEmpty {
            rc = dictionary.withUnsafeBufferPointer {
                deflateSetDictionary(&stream, $0.baseAddress, uInt($0.count))
            }
            guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "deflateSetDictionary") }
        }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let produced: Int = try input.withUnsafeBufferPointer { inPtr in
            try output.withUnsafeMutableBufferPointer { outPtr in
                stream.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
                stream.avail_in = uInt(inPtr.count)
                stream.next_out = outPtr.baseAddress
                stream.avail_out = uInt(outPtr.count)
                let rc = deflate(&stream, Z_FINISH)
                // deflateBound guarantees one Z_FINISH call suffices.
                guard rc == Z_STREAM_END else { throw ZlibError.streamError(code: rc, message: "deflate") }
                return outPtr.count - Int(stream.avail_out)
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Inflates a zlib stream. `limit` bounds the output so a hostile stream can't exhaust memory.
    public static func decompress(_ input: [UInt8], dictionary: [UInt8]? = nil, limit: Int = 16 << 20, raw: Bool = false) throws -> [UInt8] {
        var stream = z_stream()
        var rc = inflateInit2_(&stream, raw ? -MAX_WBITS : MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
        defer { inflateEnd(&stream) }
        if raw, let dictionary, !dictionary.isEmpty {
            // A raw stream never asks for its dictionary: set it up front.
            rc = dictionary.withUnsafeBufferPointer { inflateSetDictionary(&stream, $0.baseAddress, uInt($0.count)) }
            guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "inflateSetDictionary") }
        }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(64, input.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        try input.withUnsafeBufferPointer { inPtr in
            stream.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
            stream.avail_in = uInt(inPtr.count)
            while true {
                let (code, produced) = chunk.withUnsafeMutableBufferPointer { outPtr -> (Int32, Int) in
                    stream.next_out = outPtr.baseAddress
                    stream.avail_out = uInt(outPtr.count)
                    let code = inflate(&stream, Z_NO_FLUSH)
                    return (code, outPtr.count - Int(stream.avail_out))
                }
                rc = code
                if rc == Z_NEED_DICT {
                    guard let dictionary, !dictionary.isEmpty else { throw ZlibError.dictionaryMismatch }
                    let set = dictionary.withUnsafeBufferPointer {
                        inflateSetDictionary(&stream, $0.baseAddress, uInt($0.count))
                    }
                    guard set == Z_OK else { throw ZlibError.dictionaryMismatch }
                    continue
                }
                guard output.count + produced <= limit else { throw ZlibError.outputTooLarge(limit: limit) }
                output.append(contentsOf: chunk[0..<produced])
                switch rc {
                case Z_STREAM_END:
                    return
                case Z_OK:
                    continue
                case Z_BUF_ERROR:
                    // No progress possible: input ended before the stream did.
                    if stream.avail_in == 0 { throw ZlibError.truncatedInput }
                    continue
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "inflate"
                    throw ZlibError.streamError(code: rc, message: message)
                }
            }
        }
        return output
    }

    public static func crc32<C: Collection>(_ bytes: C, seed: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        let value = bytes.withContiguousStorageIfAvailable { buf in
            CZlib.crc32(uLong(seed), buf.baseAddress, uInt(buf.count))
        } ?? Array(bytes).withUnsafeBufferPointer { buf in
            CZlib.crc32(uLong(seed), buf.baseAddress, uInt(buf.count))
        }
        return UInt32(truncatingIfNeeded: value)
    }

    public static func adler32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        let start = CZlib.adler32(0, nil, 0)
        let value = bytes.withContiguousStorageIfAvailable { buf in
            CZlib.adler32(start, buf.baseAddress, uInt(buf.count))
        } ?? Array(bytes).withUnsafeBufferPointer { buf in
            CZlib.adler32(start, buf.baseAddress, uInt(buf.count))
        }
        return UInt32(truncatingIfNeeded: value)
    }
}

extension Zlib {
    /// How hard deflate searches for matches; level 9 is (32, 258, 258, 4096).
    public struct Tuning: Sendable {
        public var goodLength: Int32, maxLazy: Int32, niceLength: Int32, maxChain: Int32
        public init(goodLength: Int32, maxLazy: Int32, niceLength: Int32, maxChain: Int32) {
            (self.goodLength, self.maxLazy, self.niceLength, self.maxChain) = (goodLength, maxLazy, niceLength, maxChain)
        }
    }

    /// A deflate stream set up once and reused for many small inputs with the same dictionary, so
    /// each record pays neither the stream's allocation nor (with `.copy`) hashing the dictionary.
    /// Not thread-safe: use one per thread, or take turns.
    public final class Deflater {
        public enum Priming: Sendable {
            /// `deflateReset` + `deflateSetDictionary` per input.
            case reset
            /// `deflateCopy` of a stream primed with the dictionary once, per input.
            case copy
        }

        // zlib's state points back at its z_stream, so the stream must never move.
        private let primed = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private let work = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private let dictionary: [UInt8]
        private let priming: Priming
        private let raw: Bool

        public init(dictionary: [UInt8], level: Int32 = 9, raw: Bool = false, priming: Priming = .copy) throws {
            self.dictionary = dictionary
            self.priming = priming
            self.raw = raw
            primed.initialize(to: z_stream())
            work.initialize(to: z_stream())
            let rc = deflateInit2_(primed, level, Z_DEFLATED, raw ? -MAX_WBITS : MAX_WBITS, 9, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                primed.deallocate()
                work.deallocate()
                throw ZlibError.initFailed(code: rc)
            }
            if priming == .copy { try setDictionary(primed) }
        }

        deinit {
            deflateEnd(primed)
            primed.deallocate()
            work.deallocate()
        }

        private func setDictionary(_ stream: UnsafeMutablePointer<z_stream>) throws {
            guard !dictionary.isEmpty else { return }
            let rc = dictionary.withUnsafeBufferPointer { deflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
            guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "deflateSetDictionary") }
        }

        public func compress(_ input: [UInt8]) throws -> [UInt8] {
            let stream: UnsafeMutablePointer<z_stream>
            switch priming {
            case .reset:
                deflateReset(primed)
                try setDictionary(primed)
                stream = primed
            case .copy:
                let rc = deflateCopy(work, primed)
                guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "deflateCopy") }
                stream = work
            }
            defer { if priming == .copy { deflateEnd(work) } }
            var output = [UInt8](repeating: 0, count: Int(deflateBound(stream, uLong(input.count))))
            let produced: Int = try input.withUnsafeBufferPointer { inPtr in
                try output.withUnsafeMutableBufferPointer { outPtr in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
                    stream.pointee.avail_in = uInt(inPtr.count)
                    stream.pointee.next_out = outPtr.baseAddress
                    stream.pointee.avail_out = uInt(outPtr.count)
                    let rc = deflate(stream, Z_FINISH)
                    guard rc == Z_STREAM_END else { throw ZlibError.streamError(code: rc, message: "deflate") }
                    return outPtr.count - Int(stream.pointee.avail_out)
                }
            }
            output.removeSubrange(produced...)
            return output
        }
    }
}
