import EpilogueProtocol
import FuzzDriver
import NIOCore

/// Arbitrary bytes through the frame decoder and both message decoders. Errors are fine; a trap is
/// a bug. A message that decodes must re-encode to a frame that decodes to the same message.
@main
enum FuzzFrameDecoder {
    static func main() {
        runLibFuzzer { bytes in
            var buffer = ByteBuffer(bytes: bytes)
            var decoder = FrameDecoder(maximumFrameSize: 64 * 1024)
            while let frame = try? decoder.decode(buffer: &buffer) {
                if let message = try? ClientMessage(frame: frame) {
                    var again = ByteBuffer()
                    message.frame(requestID: frame.requestID, traceID: frame.traceID).write(to: &again)
                    precondition(reparse(&again, as: ClientMessage.init(frame:)) == message, "client message did not survive a round trip")
                }
                if let message = try? ServerMessage(frame: frame) {
                    var again = ByteBuffer()
                    message.frame(requestID: frame.requestID, flags: frame.flags).write(to: &again)
                    precondition(reparse(&again, as: ServerMessage.init(frame:)) == message, "server message did not survive a round trip")
                }
            }
        }
    }

    static func reparse<M>(_ buffer: inout ByteBuffer, as decode: (Frame) throws -> M) -> M? {
        var decoder = FrameDecoder(maximumFrameSize: 64 * 1024)
        return try? decoder.decode(buffer: &buffer).map(decode)
    }
}
