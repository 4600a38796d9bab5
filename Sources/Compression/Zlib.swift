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

/// The one place Epilogue talks to zlib: deflate/inflate of whole buffers with an optional
/// preset dictionary, plus the checksums. Streams use the zlib format (RFC 1950) so a wrong
/// dictionary is detected by its Adler-32 id instead of producing garbage.
///
/// `compress`/`decompress` set up a fresh stream per call; for many records with one dictionary,
/// `PrimedDeflater` pays for hashing the dictionary once and writes the same bytes, and
/// `DictionaryInflater` skips zlib's per-record checksum of the dictionary.
public enum Zlib {
    /// Compresses `input`. With a dictionary, the stream references it by Adler-32 id.
    /// `raw` leaves out the zlib header and Adler-32 trailer (RFC 1951 only): 6 bytes less per
    /// stream (10 with a dictionary), but a wrong dictionary is then no longer detected by the stream itself.
    public static func compress(_ input: [UInt8], dictionary: [UInt8]? = nil, level: Int32 = 6, raw: Bool = false) throws -> [UInt8] {
        try withUnsafeTemporaryAllocation(of: z_stream.self, capacity: 1) { buffer in
            // zlib's state points back at its z_stream, so it lives at one address throughout.
            let stream = buffer.baseAddress!
            try initDeflate(stream, level: level, raw: raw)
            defer { deflateEnd(stream) }
            try setDictionary(dictionary, on: stream, with: deflateSetDictionary)
            return try deflateWhole(stream, input)
        }
    }

    /// Inflates a zlib stream (or a raw deflate stream, `raw`). `limit` bounds the output so a
    /// hostile stream can't exhaust memory.
    public static func decompress(_ input: [UInt8], dictionary: [UInt8]? = nil, limit: Int = 16 << 20, raw: Bool = false) throws -> [UInt8] {
        try input.withUnsafeBufferPointer { try inflatePrefix($0, dictionary: dictionary, limit: limit, raw: raw).output }
    }

    // MARK: Steps shared by the one-shot calls and the primed streams

    /// `stream` may be uninitialised memory; zeroed, it makes zlib use its default allocator.
    /// `pooled`: the stream, and copies made of it, allocate from `ZlibBlockPool.shared`.
    static func initDeflate(_ stream: UnsafeMutablePointer<z_stream>, level: Int32, raw: Bool, pooled: Bool = false) throws {
        stream.initialize(to: z_stream())
        if pooled { ZlibBlockPool.install(on: stream) }
        // memLevel 9: what every stored body so far was written with (it shapes the hash chains,
        // so it is part of what makes the bytes come out the same).
        let rc = deflateInit2_(stream, level, Z_DEFLATED, raw ? -MAX_WBITS : MAX_WBITS, 9, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
    }

    /// Inflates the stream at the start of `input` and returns it with the bytes that followed it.
    static func inflatePrefix(_ input: UnsafeBufferPointer<UInt8>, dictionary: [UInt8]?, limit: Int, raw: Bool)
        throws -> (output: [UInt8], rest: UnsafeBufferPointer<UInt8>) {
        try withUnsafeTemporaryAllocation(of: z_stream.self, capacity: 1) { buffer in
            let stream = buffer.baseAddress!
            stream.initialize(to: z_stream())
            let rc = inflateInit2_(stream, raw ? -MAX_WBITS : MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
            defer { inflateEnd(stream) }
            // A raw stream never asks for its dictionary: set it up front.
            if raw { try setDictionary(dictionary, on: stream, with: inflateSetDictionary) }
            let output = try inflateWhole(stream, input, limit: limit, dictionary: dictionary)
            return (output, UnsafeBufferPointer(rebasing: input[(input.count - Int(stream.pointee.avail_in))...]))
        }
    }

    static func setDictionary(_ dictionary: [UInt8]?, on stream: UnsafeMutablePointer<z_stream>,
                              with set: (UnsafeMutablePointer<z_stream>?, UnsafePointer<Bytef>?, uInt) -> Int32) throws {
        guard let dictionary, !dictionary.isEmpty else { return }
        let rc = dictionary.withUnsafeBufferPointer { set(stream, $0.baseAddress, uInt($0.count)) }
        guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "setting the preset dictionary") }
    }

    /// Deflates all of `input` with one `Z_FINISH` into an array of exactly the compressed size
    /// (stored bodies stay in memory: no slack capacity).
    static func deflateWhole(_ stream: UnsafeMutablePointer<z_stream>, _ input: [UInt8]) throws -> [UInt8] {
        let bound = Int(deflateBound(stream, uLong(input.count)))
        return try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { output in
            try input.withUnsafeBufferPointer { inPtr in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: inPtr.baseAddress)
                stream.pointee.avail_in = uInt(inPtr.count)
                stream.pointee.next_out = output.baseAddress
                stream.pointee.avail_out = uInt(output.count)
                let rc = deflate(stream, Z_FINISH)
                // deflateBound guarantees one Z_FINISH call suffices.
                guard rc == Z_STREAM_END else { throw ZlibError.streamError(code: rc, message: "deflate") }
                return Array(output[..<(output.count - Int(stream.pointee.avail_out))])
            }
        }
    }

    /// Inflates from `input` until the deflate (or zlib) stream ends, straight into the result.
    /// `stream.avail_in` then says how much of `input` followed the stream.
    static func inflateWhole(_ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeBufferPointer<UInt8>, limit: Int,
                             dictionary: [UInt8]?) throws -> [UInt8] {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
        stream.pointee.avail_in = uInt(input.count)
        // Room for one byte past `limit`, which tells a stream of exactly `limit` bytes from a longer one.
        var output = [UInt8](repeating: 0, count: min(limit + 1, max(64, input.count * 4)))
        var produced = 0
        while true {
            if produced == output.count {
                guard produced <= limit else { throw ZlibError.outputTooLarge(limit: limit) }
                output += repeatElement(0, count: min(output.count, limit + 1 - output.count))
            }
            let rc = output.withUnsafeMutableBufferPointer { out -> Int32 in
                stream.pointee.next_out = out.baseAddress! + produced
                stream.pointee.avail_out = uInt(out.count - produced)
                let rc = inflate(stream, Z_NO_FLUSH)
                produced = out.count - Int(stream.pointee.avail_out)
                return rc
            }
            switch rc {
            case Z_STREAM_END:
                guard produced <= limit else { throw ZlibError.outputTooLarge(limit: limit) }
                output.removeSubrange(produced...)
                return output
            case Z_NEED_DICT:
                guard let dictionary, !dictionary.isEmpty else { throw ZlibError.dictionaryMismatch }
                let set = dictionary.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
                guard set == Z_OK else { throw ZlibError.dictionaryMismatch }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible with room to write: input ended before the stream did.
                if stream.pointee.avail_in == 0 { throw ZlibError.truncatedInput }
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "inflate"
                throw ZlibError.streamError(code: rc, message: message)
            }
        }
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
    /// A deflate stream given its preset dictionary once; each `compress` works on a copy of it
    /// (`deflateCopy`). A fresh stream costs its allocation and, with a 32 KiB dictionary, hashing
    /// all 32 Ki positions: ~20 of the ~107 µs of a 1.3 KB record here; the copy costs a few µs
    /// (docs/PERFORMANCE.md). The bytes are the same as `Zlib.compress` writes with that dictionary.
    /// Copies allocate from `ZlibBlockPool` (reused blocks, not fresh memory per record).
    ///
    /// Never changed after `init` (`deflateCopy` only reads the stream it copies), so one instance
    /// serves any number of threads at once.
    public final class PrimedDeflater: @unchecked Sendable {
        private let primed: UnsafeMutablePointer<z_stream>

        public init(dictionary: [UInt8], level: Int32, raw: Bool) throws {
            // Set up before the stored property, so a throw leaves nothing for deinit to undo.
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            do {
                try Zlib.initDeflate(stream, level: level, raw: raw, pooled: true)
            } catch {
                stream.deallocate()
                throw error
            }
            do {
                try Zlib.setDictionary(dictionary, on: stream, with: deflateSetDictionary)
            } catch {
                deflateEnd(stream)
                stream.deallocate()
                throw error
            }
            primed = stream
        }

        deinit {
            deflateEnd(primed)
            primed.deallocate()
        }

        public func compress(_ input: [UInt8]) throws -> [UInt8] {
            try withUnsafeTemporaryAllocation(of: z_stream.self, capacity: 1) { buffer in
                let stream = buffer.baseAddress!
                let rc = deflateCopy(stream, primed)
                guard rc == Z_OK else { throw ZlibError.streamError(code: rc, message: "deflateCopy") }
                defer { deflateEnd(stream) }
                return try Zlib.deflateWhole(stream, input)
            }
        }
    }

    /// Inflates raw deflate (RFC 1951) and zlib streams (RFC 1950) made with one preset
    /// dictionary. For the zlib format it checks the header and Adler-32 trailer itself, against
    /// the dictionary's id computed once: zlib's own check computes the Adler-32 of the whole
    /// dictionary for every record, half the cost of inflating one with a 20 KiB dictionary.
    /// A copy of a primed stream (`inflateCopy`) measured slower than setting the dictionary on a
    /// fresh raw stream (a 32 KiB memcpy either way; docs/PERFORMANCE.md), so this does the latter.
    public struct DictionaryInflater: Sendable {
        private let dictionary: [UInt8]
        private let dictionaryID: UInt32

        public init(dictionary: [UInt8]) {
            self.dictionary = dictionary
            dictionaryID = Zlib.adler32(dictionary)
        }

        /// Same results and errors as `Zlib.decompress(input, dictionary:, limit:, raw:)` with this
        /// dictionary.
        public func decompress(_ input: [UInt8], limit: Int = 16 << 20, raw: Bool) throws -> [UInt8] {
            guard !raw else { return try Zlib.decompress(input, dictionary: dictionary, limit: limit, raw: true) }
            return try input.withUnsafeBufferPointer { all in
                let header = try ZlibHeader(all)
                // A stream made without a dictionary needs none (as zlib itself treats it).
                guard let id = header.dictionaryID else { return try Zlib.decompress(input, limit: limit) }
                guard id == dictionaryID else { throw ZlibError.dictionaryMismatch }
                let (output, rest) = try Zlib.inflatePrefix(UnsafeBufferPointer(rebasing: all[header.length...]), dictionary: dictionary,
                                                      limit: limit, raw: true)
                guard rest.count >= 4 else { throw ZlibError.truncatedInput }
                let check = rest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                guard check == Zlib.adler32(output) else {
                    throw ZlibError.streamError(code: Z_DATA_ERROR, message: "incorrect data check")
                }
                return output
            }
        }
    }

    /// The zlib format's header (RFC 1950 §2.2), checked as zlib's own `inflate` checks it.
    struct ZlibHeader {
        /// Adler-32 of the preset dictionary the stream needs, if it needs one.
        var dictionaryID: UInt32?
        /// Header bytes before the deflate stream: 2, or 6 with a dictionary id.
        var length: Int

        init(_ bytes: UnsafeBufferPointer<UInt8>) throws {
            guard bytes.count >= 2 else { throw ZlibError.truncatedInput }
            let (cmf, flg) = (bytes[0], bytes[1])
            guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw Self.invalid("incorrect header check") }
            guard cmf & 0x0F == Z_DEFLATED else { throw Self.invalid("unknown compression method") }
            guard cmf >> 4 <= 7 else { throw Self.invalid("invalid window size") }
            guard flg & 0x20 != 0 else {
                (dictionaryID, length) = (nil, 2)
                return
            }
            guard bytes.count >= 6 else { throw ZlibError.truncatedInput }
            dictionaryID = bytes[2..<6].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            length = 6
        }

        private static func invalid(_ message: String) -> ZlibError { .streamError(code: Z_DATA_ERROR, message: message) }
    }
}
