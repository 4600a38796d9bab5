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
    public static func compress(_ input: [UInt8], dictionary: [UInt8]? = nil, level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        var rc = deflateInit_(&stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
        defer { deflateEnd(&stream) }
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
    public static func decompress(_ input: [UInt8], dictionary: [UInt8]? = nil, limit: Int = 16 << 20) throws -> [UInt8] {
        var stream = z_stream()
        var rc = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.initFailed(code: rc) }
        defer { inflateEnd(&stream) }
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
