import EpilogueStorage
import EpilogueServerKit
import NIOCore

/// Frame ends in a store connection's byte stream, from the length prefixes alone, for
/// `SlowInputGuard`: a frame is started once its first byte arrived. Bad lengths are the
/// decoder's business (it closes the connection); here they only count bytes.
public struct FrameBoundaries: MessageBoundaries {
    private var prefixBytesSeen = 0
    private var length: UInt32 = 0
    private var bodyLeft = 0

    public init() {}

    public mutating func consume(_ bytes: ByteBufferView) -> (endedOne: Bool, unfinished: Bool) {
        var endedOne = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if prefixBytesSeen < 4 {
                length = length << 8 | UInt32(bytes[index])
                prefixBytesSeen += 1
                index += 1
                if prefixBytesSeen == 4 { bodyLeft = Int(length) }
            } else {
                let taken = min(bodyLeft, bytes.endIndex - index)
                bodyLeft -= taken
                index += taken
            }
            if prefixBytesSeen == 4, bodyLeft == 0 {
                endedOne = true
                prefixBytesSeen = 0
                length = 0
            }
        }
        return (endedOne, prefixBytesSeen > 0)
    }
}
