import Foundation
import EpilogueGateway

/// Arbitrary bytes as a command line: the parser must answer a command, nothing, or an error.
func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? TextCommand.parse(line)
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
