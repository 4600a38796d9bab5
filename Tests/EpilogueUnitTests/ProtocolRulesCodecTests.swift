import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite struct ProtocolRulesCodecTests {
    @Test func readyFromAnOlderStoreWithoutTheDictionaryListDecodesAsNone() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(1 << 20))
        #expect(try ServerMessage(frame: Frame(type: MessageType.ready.rawValue, requestID: 0, payload: payload)) ==
            .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [])))
    }

    @Test func versionUnsupportedFromAnOlderStoreWithoutTheVersionListDecodesAsNone() throws {
        let old = ServerMessage.error(code: .internalError, message: "v1 only").frame(requestID: 0)
        var payload = old.payload
        payload.setInteger(ErrorCode.versionUnsupported.rawValue, at: payload.readerIndex)
        #expect(try ServerMessage(frame: Frame(type: MessageType.error.rawValue, requestID: 0, payload: payload)) ==
            .versionUnsupported(serverVersions: [], message: "v1 only"))
    }

    @Test func challengeNonceMustBe32Bytes() {
        for length in [0, 31, 33] {
            let frame = ServerMessage.challenge(Challenge(version: 1, nonce: [UInt8](repeating: 1, count: length), authRequired: false,
                                                          serverName: "s")).frame(requestID: 0)
            #expect(throws: ProtocolError.self) { try ServerMessage(frame: frame) }
        }
    }

    /// Wire strings are any valid UTF-8: U+FEFF is an ordinary character (not stripped as a BOM)
    /// and NUL is allowed; record fields and ids are narrower (see the validation table).
    @Test func wireStringsKeepUFEFFAndNULAsTheyAre() throws {
        for text in ["\u{FEFF}dream", "a\u{0}b", "\u{FEFF}"] {
            let message = ClientMessage.search(text: text, RecordFilter(film: text), limit: 1)
            let decoded = try ClientMessage(frame: message.frame(requestID: 1))
            #expect(decoded == message)
            guard case .search(let back, _, _, _, _) = decoded else { return }
            #expect(Array(back.utf8) == Array(text.utf8))
        }
    }

    @Test(arguments: [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xFF], [0x61, 0xC3]] as [[UInt8]])
    func surrogatesOverlongFormsAndNonUTF8AreDecodingErrors(_ bytes: [UInt8]) {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(bytes.count))
        payload.writeBytes(bytes)
        #expect(throws: ProtocolError.invalidUTF8("id")) { try ClientMessage(frame: Frame(type: MessageType.get.rawValue, requestID: 1, payload: payload)) }
    }

    @Test func recordFieldsRefuseNULAndIDsRefuseNULAndUFEFFButTextFieldsKeepUFEFF() throws {
        #expect(throws: RecordValidationError.self) { try RecordValidator.validate(id: "a\u{0}b") }
        #expect(throws: RecordValidationError.self) { try RecordValidator.validate(id: "\u{FEFF}a") }
        var content = TestSupport.content()
        content.film = "La\u{0}Land"
        #expect(throws: RecordValidationError(field: "film", reason: "must not contain control characters")) { try RecordValidator.validate(content) }
        content.film = "\u{FEFF}La La Land"
        try RecordValidator.validate(content)
        content.film = "\u{FEFF}"
        try RecordValidator.validate(content)
    }

    /// PROTOCOL.md §2.5 is the one validation table (TEXT_PROTOCOL.md links to it): its numbers are RecordLimits'.
    @Test func validationTableInTheSpecStatesTheLimitsTheValidatorEnforces() throws {
        let spec = try String(contentsOf: Fixtures.vectors.deletingLastPathComponent().appendingPathComponent("PROTOCOL.md"), encoding: .utf8)
        let table = spec.components(separatedBy: "### 2.5 Record validation").last?.components(separatedBy: "## 3.").first ?? ""
        func grouped(_ n: Int) -> String { n.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US"))) }
        for row in ["| `id` | 1–\(RecordLimits.maxIDBytes) bytes", "| `film` | 1–\(grouped(RecordLimits.maxShortFieldBytes)) bytes",
                    "| `reading` | 1–\(grouped(RecordLimits.maxReadingBytes)) bytes",
                    "| `year` | \(RecordLimits.yearRange.lowerBound)–\(RecordLimits.yearRange.upperBound)",
                    "| `themes` | 0–\(RecordLimits.maxThemes) tags, each 1–\(RecordLimits.maxThemeBytes) bytes"] {
            #expect(table.contains(row), "PROTOCOL.md §2.5 lacks \(row)")
        }
        let text = try String(contentsOf: Fixtures.vectors.deletingLastPathComponent().appendingPathComponent("TEXT_PROTOCOL.md"), encoding: .utf8)
        #expect(text.contains("PROTOCOL.md §2.5"))
    }
}
