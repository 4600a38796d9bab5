import EpilogueModel
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueProtocol

@Suite struct GoldenVectorTests {
    @Test func everyMessageTypeHasAGoldenVector() {
        let covered = Set(GoldenVector.all.map { $0.encodedFrame().type })
        #expect(covered == Set(MessageType.allCases.map(\.rawValue)))
    }

    @Test(arguments: GoldenVector.all)
    func goldenVectorDecodesAndReencodesByteIdentically(_ vector: GoldenVector) throws {
        let golden = try Fixtures.hexBytes(vector.name)
        var input = ByteBuffer(bytes: golden)
        var decoder = FrameDecoder()
        let frame = try #require(try decoder.decode(buffer: &input))
        #expect(input.readableBytes == 0)
        #expect(frame.requestID == vector.requestID)
        #expect(frame.flags == vector.flags.union(vector.traceID == nil ? [] : .traced))
        #expect(frame.traceID == vector.traceID)

        var reencoded = ByteBuffer()
        switch vector.message {
        case .client(let expected):
            let decoded = try ClientMessage(frame: frame)
            #expect(decoded == expected)
            decoded.frame(requestID: frame.requestID, traceID: frame.traceID).write(to: &reencoded)
        case .server(let expected):
            let decoded = try ServerMessage(frame: frame)
            #expect(decoded == expected)
            decoded.frame(requestID: frame.requestID, flags: frame.flags).write(to: &reencoded)
        }
        #expect(Array(buffer: reencoded) == golden)
    }

    /// A streamed answer (PROTOCOL.md §5): three frames, the flag on all but the last.
    @Test func streamedAnswerVectorIsTwoHitsThenResultEnd() throws {
        var input = ByteBuffer(bytes: try Fixtures.hexBytes("stream-search"))
        var decoder = FrameDecoder()
        var frames: [Frame] = []
        while let frame = try decoder.decode(buffer: &input) { frames.append(frame) }
        #expect(input.readableBytes == 0)
        let expected: [ServerMessage] = [
            .hit(SearchHit(id: "a", score: -2.25, film: "La La Land", subject: "epilogue", snippet: "the [dream] ends")),
            .hit(SearchHit(id: "b", score: -1.5, film: "La La Land", subject: "planetarium", snippet: "a [dream] of flight")),
            .resultEnd(returned: 2, total: 2),
        ]
        #expect(try frames.map { try ServerMessage(frame: $0) } == expected)
        #expect(frames.map(\.flags) == [.streamContinues, .streamContinues, []])
        #expect(frames.allSatisfy { $0.requestID == 6 })
        var reencoded = ByteBuffer()
        for (message, frame) in zip(expected, frames) { message.frame(requestID: 6, flags: frame.flags).write(to: &reencoded) }
        #expect(Array(buffer: reencoded) == (try Fixtures.hexBytes("stream-search")))
    }

    /// docs/protocol-vectors/README.md lists every file there, and every file is checked here.
    @Test func readmeListsEveryVectorFileAndEveryFileIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.vectors.path).filter { $0.hasSuffix(".hex") }
        let readme = try String(contentsOf: Fixtures.vectors.appendingPathComponent("README.md"), encoding: .utf8)
        for file in files { #expect(readme.contains("`\(file)`"), "\(file) missing from the README") }
        let checked = Set(GoldenVector.all.map { "\($0.name).hex" } + ["stream-search.hex"])
        #expect(Set(files) == checked)
    }
}
