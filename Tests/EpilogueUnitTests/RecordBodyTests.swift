import EpilogueModel
import EpilogueTestSupport
import Testing

/// `RecordBody` reads back what it wrote and refuses a string that is not UTF-8.
@Suite struct RecordBodyTests {
    @Test func contentComesBackAsWrittenIncludingMultiByteText() throws {
        let content = TestSupport.content(reading: "Café, naïve — 東京 🎬, and a NUL \u{0} too")
        #expect(try RecordBody.content(of: RecordBody.bytes(of: content)) == content)
    }

    @Test func invalidUTF8InAFieldIsRefusedAndNamed() throws {
        let content = TestSupport.content(reading: "abcdef")
        let bytes = RecordBody.bytes(of: content)
        let needle = Array("abcdef".utf8)
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: needle) })
        // A lone continuation byte, a truncated three-byte sequence, an encoded surrogate.
        for bad in [[0x80] as [UInt8], [0xE2, 0x82, 0x41], [0xED, 0xA0, 0x80]] {
            var damaged = bytes
            damaged.replaceSubrange(at..<(at + bad.count), with: bad)
            #expect(throws: RecordBodyError.invalidUTF8("reading")) { try RecordBody.content(of: damaged) }
        }
    }
}
