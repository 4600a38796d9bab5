import EpilogueTestSupport
import Foundation
import NIOCore
import NIOTestUtils
import Testing
@testable import EpilogueProtocol

/// Inputs the fuzzers found, kept as regression tests.
@Suite struct FuzzRegressionTests {
    @Test func hitWithANaNScoreIsADecodingError() throws {
        let url = Fixtures.directory.appendingPathComponent("fuzz/hit-with-nan-score.bin")
        var buffer = ByteBuffer(bytes: try [UInt8](Data(contentsOf: url)))
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &buffer))
        #expect(throws: ProtocolError.invalidValue(field: "score", reason: "must be a finite number")) { try ServerMessage(frame: frame) }
    }
}
