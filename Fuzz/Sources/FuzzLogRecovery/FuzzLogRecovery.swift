import Foundation
import EpilogueStore

/// Arbitrary bytes as the entries of a record log: recovery reads entry after entry until the
/// bytes end or one is torn or corrupt. Every entry read must re-encode to the same bytes' meaning.
func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var offset = 0
    while offset < size {
        guard case .entry(let entry, let length) = LogEntry.read(UnsafeRawBufferPointer(rebasing: bytes[offset...])) else { break }
        let encoded = entry.encoded()
        let reread = encoded.withUnsafeBytes { LogEntry.read($0) }
        precondition(reread == .entry(entry, size: encoded.count), "log entry did not survive a round trip")
        precondition(length > 0)
        offset += length
    }
    return 0
}

// SwiftPM gives every executable a `main` of its own, so libFuzzer's `main` is never linked in;
// hand control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let data, size > 0 else { return fuzzOne(UnsafePointer(bitPattern: 1)!, 0) }
            return fuzzOne(data, size)
        })
    }
}
