import Foundation
import EpilogueProtocol
import NIOCore

/// Arbitrary bytes through the frame decoder and both message decoders. Errors are fine; a trap is
/// a bug. A message that decodes must re-encode to a frame that decodes to the same message.
func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    var decoder = FrameDecoder(maximumFrameSize: 64 * 1024)
    while let frame = try? decoder.decode(buffer: &buffer) {
        if let message = try? ClientMessage(frame: frame) {
            var again = ByteBuffer()
            message.frame(requestID: frame.requestID, traceID: frame.traceID).write(to: &again)
            var second = FrameDecoder(maximumFrameSize: 64 * 1024)
            let reparsed = try? second.decode(buffer: &again).map { try ClientMessage(frame: $0) }
            precondition(reparsed == message, "client message did not survive a round trip")
        }
        if let message = try? ServerMessage(frame: frame) {
            var again = ByteBuffer()
            message.frame(requestID: frame.requestID, flags: frame.flags).write(to: &again)
            var second = FrameDecoder(maximumFrameSize: 64 * 1024)
            let reparsed = try? second.decode(buffer: &again).map { try ServerMessage(frame: $0) }
            precondition(reparsed == message, "server message did not survive a round trip")
        }
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
