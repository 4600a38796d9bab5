import Foundation

// SwiftPM gives every executable a `main` of its own, so libFuzzer's `main` is never linked in;
// each target's `main` hands control to libFuzzer's driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target's test, reached from the C callback (which cannot capture a closure).
nonisolated(unsafe) private var testOneInput: (UnsafeRawBufferPointer) -> Void = { _ in }

/// Runs libFuzzer with the process's arguments, calling `body` with each input; never returns.
public func runLibFuzzer(_ body: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    testOneInput = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        testOneInput(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
        return 0
    })
}
