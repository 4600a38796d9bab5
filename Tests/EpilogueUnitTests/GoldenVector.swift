import EpilogueModel
import EpilogueServerKit
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueProtocol

/// One golden vector: a whole frame's bytes in docs/protocol-vectors/<name>.hex and the message they mean.
struct GoldenVector: CustomTestStringConvertible, Sendable {
    enum Message: Sendable {
        case client(ClientMessage)
        case server(ServerMessage)
    }

    var name: String
    var requestID: UInt32
    var flags: FrameFlags = []
    var traceID: UInt64? = nil
    var message: Message

    var testDescription: String { name }

    func encodedFrame() -> Frame {
        switch message {
        case .client(let message): return message.frame(requestID: requestID, traceID: traceID)
        case .server(let message): return message.frame(requestID: requestID, flags: flags)
        }
    }

    static let sampleContent = RecordContent(
        film: "La La Land", year: 2016, director: "Damien Chazelle", subject: "epilogue",
        reading: "A what-if: the life they did not choose.", source: "Damien Chazelle, interview",
        sourceKind: .director, themes: ["what-if", "sacrifice"])

    static let all: [GoldenVector] = [
        .init(name: "hello", requestID: 0, message: .client(.hello(Hello(versions: [1, 2], clientName: "gw", dictionaries: [1])))),
        .init(name: "hello-any-dictionary", requestID: 0,
              message: .client(.hello(Hello(versions: [1], clientName: "gw", dictionaries: [1, Hello.anyDictionary])))),
        .init(name: "authenticate", requestID: 0, message: .client(.authenticate(proof: Array(0..<32)))),
        .init(name: "ping", requestID: 1, message: .client(.ping(ByteBuffer(string: "hi")))),
        .init(name: "get", requestID: 2, message: .client(.get(id: "la-la-land/epilogue"))),
        .init(name: "get-traced", requestID: 2, traceID: 0x0102_0304_0506_0708, message: .client(.get(id: "x"))),
        .init(name: "put", requestID: 3, message: .client(.put(id: "la-la-land/epilogue", content: sampleContent, expectedVersion: 4))),
        .init(name: "put-no-expected-version", requestID: 3, message: .client(.put(id: "x", content: sampleContent, expectedVersion: nil))),
        .init(name: "delete", requestID: 4, message: .client(.delete(id: "x", expectedVersion: nil))),
        .init(name: "query", requestID: 5, message: .client(.query(RecordFilter(film: "La La Land", theme: "grief", sourceKind: .critic, subject: nil), limit: 10, offset: 20))),
        .init(name: "search", requestID: 6, message: .client(.search(text: "dream café", RecordFilter(sourceKind: .cast), limit: 5))),
        .init(name: "search-offset", requestID: 6, message: .client(.search(text: "dream", RecordFilter(), limit: 10, offset: 20))),
        .init(name: "search-fuzzy", requestID: 6, message: .client(.search(text: "chazzele", RecordFilter(), limit: 10, offset: 0, fuzzy: true))),
        .init(name: "list-films", requestID: 7, message: .client(.listFilms)),
        .init(name: "list-themes", requestID: 8, message: .client(.listThemes(film: "A Real Pain"))),
        .init(name: "stats", requestID: 9, message: .client(.stats)),
        .init(name: "export", requestID: 12, message: .client(.export(RecordFilter(film: "La La Land")))),
        .init(name: "import", requestID: 13, message: .client(.import(.skip, [ImportItem(line: 7, id: "x", content: sampleContent, version: 3, updatedAt: 1_700_000_000_000)]))),
        .init(name: "imported", requestID: 13, message: .server(.imported(written: 1000, skipped: 2, replaced: 10))),
        .init(name: "backup", requestID: 14, message: .client(.backup)),
        .init(name: "backup-chunk", requestID: 14, flags: .streamContinues, message: .server(.backupChunk(file: "records.log", offset: 0, data: ByteBuffer(bytes: Array("EPILOG".utf8) + [0, 1])))),
        .init(name: "backup-end", requestID: 14, message: .server(.backupEnd([BackupFile(name: "records.log", length: 8, crc32: 0x0A1B_2C3D)]))),
        .init(name: "track", requestID: 15, message: .client(.track(.broadcast))),
        .init(name: "tracking", requestID: 15, message: .server(.tracking(.broadcast))),
        .init(name: "invalidate", requestID: 0, message: .server(.invalidate(ids: ["x", "la-la-land/epilogue"]))),
        .init(name: "invalidate-all", requestID: 0, message: .server(.invalidate(ids: []))),
        .init(name: "challenge", requestID: 0, message: .server(.challenge(Challenge(version: 1, nonce: Array(repeating: 0xAB, count: 32), authRequired: true, serverName: "store")))),
        .init(name: "ready", requestID: 0, message: .server(.ready(Ready(maximumFrameSize: 1_048_576, dictionaries: [1])))),
        // The handshake of PROTOCOL.md §5: HMAC proof of the known-answer vector of §3 for this nonce.
        .init(name: "handshake-challenge", requestID: 0, message: .server(.challenge(Challenge(version: 1, nonce: Array(0..<32), authRequired: true, serverName: "epilogue-store")))),
        .init(name: "handshake-authenticate", requestID: 0, message: .client(.authenticate(proof: SharedSecretAuth.proof(secret: "correct horse battery staple", nonce: Array(0..<32))))),
        .init(name: "get-dictionary", requestID: 10, message: .client(.getDictionary(id: 1000))),
        .init(name: "dictionary", requestID: 10, message: .server(.dictionary(id: 1000, bytes: Array("the dream ends".utf8)))),
        .init(name: "error-version-unsupported", requestID: 0, message: .server(.versionUnsupported(serverVersions: [1], message: "server speaks protocol version 1; client offered [2]"))),
        .init(name: "error-unknown-message", requestID: 11, message: .server(.error(code: .unknownMessage, message: "unknown message type 0x7e"))),
        .init(name: "pong", requestID: 1, message: .server(.pong(ByteBuffer(string: "hi")))),
        .init(name: "record", requestID: 2, message: .server(.record(WireRecord(id: "x", version: 3, updatedAt: 1_700_000_000_000, encoding: .plain, dictionaryID: 0, body: RecordBody.encode(sampleContent))))),
        .init(name: "record-zlib", requestID: 2, flags: .streamContinues, message: .server(.record(WireRecord(id: "x", version: 3, updatedAt: 1_700_000_000_000, encoding: .zlib, dictionaryID: 1, body: ByteBuffer(bytes: [0x78, 0xBB, 0x01, 0x02]))))),
        .init(name: "written", requestID: 3, message: .server(.written(id: "x", version: 5, updatedAt: 1_700_000_000_123))),
        .init(name: "deleted", requestID: 4, message: .server(.deleted(id: "x", version: 5))),
        .init(name: "hit", requestID: 6, flags: .streamContinues, message: .server(.hit(SearchHit(id: "x", score: -1.5, film: "La La Land", subject: "epilogue", snippet: "the [dream] ends")))),
        .init(name: "result-end", requestID: 6, message: .server(.resultEnd(returned: 1, total: 42))),
        .init(name: "result-end-suggestions", requestID: 6, message: .server(.resultEnd(returned: 0, total: 0, suggestions: ["chazelle"]))),
        .init(name: "films", requestID: 7, message: .server(.films([FilmSummary(film: "La La Land", year: 2016, director: "Damien Chazelle", records: 30)]))),
        .init(name: "themes", requestID: 8, message: .server(.themes([ThemeCount(theme: "grief", records: 7), ThemeCount(theme: "sacrifice", records: 9)]))),
        .init(name: "stats-result", requestID: 9, message: .server(.stats([StatEntry(name: "records", value: 45)]))),
        .init(name: "error", requestID: 2, message: .server(.error(code: .notFound, message: "no record x"))),
    ]
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// Published with the spec, where a stranger finds them (the Python client's tests read them too).
    static let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/protocol-vectors")

    /// Hex with whitespace and `#` comments allowed.
    static func hexBytes(_ name: String) throws -> [UInt8] {
        let text = try String(contentsOf: vectors.appendingPathComponent("\(name).hex"), encoding: .utf8)
        let digits = text.split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
            .joined().filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
