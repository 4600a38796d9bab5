import CZlib
import EpilogueShared
import Foundation

/// Memory for the deflate streams `Zlib.PrimedDeflater` copies, kept for the next copy.
///
/// Each `deflateCopy` allocates the stream's state, window and hash tables (~390 KiB at memLevel
/// 9) and `deflateEnd` frees them. In a C harness on the store's zlib (1.2.13; 4,000 corpus records,
/// a trained 32 KiB dictionary, level 6) malloc's fresh memory cost ~190 µs a record against ~84 µs
/// with blocks reused, the same bytes out. Inside the store glibc already reused most of it: the
/// pool took a 20k populate from 87k to 27k page faults, with no CPU change beyond the noise
/// (docs/PERFORMANCE.md, "Bulk indexing", 2026-11-30). A copy allocates with the callbacks of the
/// stream it copies, so the primed stream is set up with `install(on:)`.
///
/// Bounded: at most `blocksPerSize` free blocks of each size are kept (a few per core); beyond
/// that a freed block goes back to the system.
final class ZlibBlockPool: Sendable {
    static let shared = ZlibBlockPool(blocksPerSize: 2 * max(1, ProcessInfo.processInfo.activeProcessorCount))

    /// Each block starts with this header: its usable size (zlib's free callback gives no size).
    private static let header = 16

    let blocksPerSize: Int
    /// Free blocks by usable size, as addresses (what the header points into).
    private let spare: Locked<[Int: [UInt]]>

    init(blocksPerSize: Int) {
        self.blocksPerSize = blocksPerSize
        spare = Locked([:])
    }

    /// Makes `stream` (before `deflateInit2_`) and the copies made from it allocate here.
    static func install(on stream: UnsafeMutablePointer<z_stream>) {
        stream.pointee.zalloc = { _, items, size in
            ZlibBlockPool.shared.allocate(Int(items) * Int(size))
        }
        stream.pointee.zfree = { _, address in
            ZlibBlockPool.shared.release(address)
        }
        stream.pointee.opaque = nil
    }

    /// A block of at least `size` bytes, not zeroed (zlib never asks for zeroed memory), or nil.
    func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        if let reused = spare.withLock({ $0[size]?.popLast() }), let block = UnsafeMutableRawPointer(bitPattern: reused) {
            return block + Self.header
        }
        guard let block = malloc(size + Self.header) else { return nil }
        block.storeBytes(of: size, as: Int.self)
        return block + Self.header
    }

    func release(_ address: UnsafeMutableRawPointer?) {
        guard let address else { return }
        let block = address - Self.header
        let size = block.load(as: Int.self)
        let kept = spare.withLock { spare -> Bool in
            guard spare[size, default: []].count < blocksPerSize else { return false }
            spare[size, default: []].append(UInt(bitPattern: block))
            return true
        }
        if !kept { free(block) }
    }

    /// Free blocks held now (tests).
    var heldBlocks: Int { spare.withLock { $0.values.reduce(0) { $0 + $1.count } } }
}
