import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import Foundation
import NIOCore
import Testing
@testable import EpilogueStore

/// The rules of docs/PROTOCOL.md that issue 16 settled, one test each: request ids, unknown
/// message types, proof lengths, handshake order, strings, which error wins, monotonic versions,
/// dictionary fetch and announcement.
@Suite struct ProtocolRulesStateMachineTests {
    private let nonce = [UInt8](repeating: 7, count: 32)

    private func readyMachine(secret: String? = nil, dictionaries: [UInt32] = []) -> StoreConnectionStateMachine {
        var machine = StoreConnectionStateMachine(secret: secret, makeNonce: { [nonce] in nonce },
                                                  availableDictionaries: { dictionaries })
        _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        _ = machine.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0))
        return machine
    }

    private func isFatal(_ action: StoreConnectionStateMachine.Action, _ code: ErrorCode, requestID: UInt32) -> Bool {
        guard case .sendAndClose(let message, let id) = action else { return false }
        return message.errorCode == code && id == requestID
    }

    @Test func requestIDZeroAfterReadyIsAProtocolViolation() {
        var machine = readyMachine()
        #expect(isFatal(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 0)), .protocolViolation, requestID: 0))
        #expect(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 1)) == .ignore)
    }

    @Test func handshakeFramesMustUseRequestIDZero() {
        var hello = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(hello.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 5)), .protocolViolation, requestID: 5))
        var auth = StoreConnectionStateMachine(secret: nil)
        _ = auth.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        #expect(isFatal(auth.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 6)), .protocolViolation, requestID: 6))
    }

    @Test func reusingTheIDOfAWriteInFlightIsAProtocolViolationAndFreeOnceAnswered() {
        let put = ClientMessage.put(id: "x", content: TestSupport.content(), expectedVersion: nil)
        var machine = readyMachine()
        #expect(machine.frameReceived(put.frame(requestID: 7)) == .serve(put, requestID: 7))
        // Reads are answered inline, so their ids are free again at once.
        #expect(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 8)) == .serve(.get(id: "x"), requestID: 8))
        #expect(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 8)) == .serve(.get(id: "x"), requestID: 8))
        machine.answered(requestID: 7)
        #expect(machine.frameReceived(put.frame(requestID: 7)) == .serve(put, requestID: 7))
        #expect(isFatal(machine.frameReceived(ClientMessage.get(id: "x").frame(requestID: 7)), .protocolViolation, requestID: 7))
        // Also when the duplicate is of a type the store does not know.
        var unknown = readyMachine()
        _ = unknown.frameReceived(put.frame(requestID: 9))
        #expect(isFatal(unknown.frameReceived(Frame(type: 0x7E, requestID: 9, payload: ByteBuffer())), .protocolViolation, requestID: 9))
    }

    @Test func unknownRequestTypeAfterReadyIsRefusedWithUnknownMessageAndTheConnectionGoesOn() {
        var machine = readyMachine()
        let action = machine.frameReceived(Frame(type: 0x7E, requestID: 3, payload: ByteBuffer(bytes: [1, 2, 3])))
        guard case .send(.error(.unknownMessage, _), 3) = action else { Issue.record("got \(action)"); return }
        #expect(machine.frameReceived(ClientMessage.ping(ByteBuffer()).frame(requestID: 4)) == .serve(.ping(ByteBuffer()), requestID: 4))
    }

    @Test func unknownTypeBeforeReadyOrInTheResponseRangeIsAProtocolViolation() {
        var before = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(before.frameReceived(Frame(type: 0x7E, requestID: 0, payload: ByteBuffer())), .protocolViolation, requestID: 0))
        var after = readyMachine()
        #expect(isFatal(after.frameReceived(Frame(type: 0xEE, requestID: 3, payload: ByteBuffer())), .protocolViolation, requestID: 3))
    }

    @Test(arguments: [1, 16, 31, 33, 64])
    func proofOfAnotherLengthThanZeroOr32IsAProtocolViolationWithOrWithoutASecret(_ length: Int) {
        for secret in [nil, "s3cret"] as [String?] {
            var machine = StoreConnectionStateMachine(secret: secret)
            _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
            let proof = ClientMessage.authenticate(proof: [UInt8](repeating: 1, count: length)).frame(requestID: 0)
            #expect(isFatal(machine.frameReceived(proof), .protocolViolation, requestID: 0), "secret \(secret ?? "none")")
        }
    }

    @Test func secondHelloOrAuthenticateAfterReadyIsAProtocolViolation() {
        var hello = readyMachine()
        #expect(isFatal(hello.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0)), .protocolViolation, requestID: 0))
        var auth = readyMachine()
        #expect(isFatal(auth.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0)), .protocolViolation, requestID: 0))
    }

    @Test func helloWithABadMagicIsAProtocolViolation() {
        var payload = ByteBuffer()
        ClientMessage.hello(Hello(clientName: "t")).encodePayload(into: &payload)
        payload.setInteger(UInt32(0x4550_494D), at: payload.readerIndex)
        var machine = StoreConnectionStateMachine(secret: nil)
        #expect(isFatal(machine.frameReceived(Frame(type: MessageType.hello.rawValue, requestID: 0, payload: payload)),
                        .protocolViolation, requestID: 0))
    }

    @Test func fatalErrorCarriesTheFrameRequestIDOnceTheHeaderWasReadElseZero() {
        var flags = readyMachine()
        #expect(isFatal(flags.framingFailed(FrameDecodingError(requestID: 9, reason: .unknownFlags(0x40))), .protocolViolation, requestID: 9))
        var trace = readyMachine()
        #expect(isFatal(trace.framingFailed(FrameDecodingError(requestID: 10, reason: .truncated("trace id"))), .protocolViolation, requestID: 10))
        var large = readyMachine()
        #expect(isFatal(large.framingFailed(ProtocolError.frameTooLarge(declared: 1 << 21, maximum: 1 << 20)), .tooLarge, requestID: 0))
        var short = readyMachine()
        #expect(isFatal(short.framingFailed(ProtocolError.frameTooShort(declared: 2)), .protocolViolation, requestID: 0))
        // STREAM_CONTINUES on a request: a decoding error of a frame whose id is known.
        var stream = readyMachine()
        let frame = Frame(type: MessageType.ping.rawValue, flags: .streamContinues, requestID: 11, payload: ByteBuffer(bytes: [0, 0, 0, 0]))
        #expect(isFatal(stream.frameReceived(frame), .protocolViolation, requestID: 11))
    }

    @Test func readyAnnouncesTheDictionariesTheServerCanHandOut() {
        var machine = StoreConnectionStateMachine(secret: nil, availableDictionaries: { [1, 1000] })
        _ = machine.frameReceived(ClientMessage.hello(Hello(clientName: "t")).frame(requestID: 0))
        #expect(machine.frameReceived(ClientMessage.authenticate(proof: []).frame(requestID: 0)) ==
            .send(.ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, 1000])), requestID: 0))
    }
}

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

@Suite(.timeLimit(.minutes(2))) struct ProtocolRulesStoreTests {
    @Test func versionsStayMonotonicAcrossDeleteAndPutThroughCompactionAndRestart() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        var store = try await TestSupport.openStore(dir, fsync: .never)
        _ = try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil)
        _ = try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil)
        #expect(try await store.delete(id: "aba", expectedVersion: 2) == 2)
        // A deleted record does not exist (expected version 0 matches), and its versions go on.
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: 0).version == 3)
        #expect(try await store.delete(id: "aba", expectedVersion: nil) == 3)
        _ = try await store.put(id: "other", content: TestSupport.content(), expectedVersion: nil)
        try store.compact()
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: nil).version == 4)
        #expect(try await store.delete(id: "aba", expectedVersion: 4) == 4)
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        try store.compact()
        store.close()
        store = try await TestSupport.openStore(dir, fsync: .never)
        #expect(try await store.put(id: "aba", content: TestSupport.content(), expectedVersion: 0).version == 5)
        store.close()
    }

    /// NOT_FOUND wins over CONFLICT, INVALID_RECORD over CONFLICT.
    @Test func whichErrorWinsWhenTwoApply() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        await #expect(throws: StoreError.notFound(id: "missing")) { _ = try await store.delete(id: "missing", expectedVersion: 3) }
        var bad = TestSupport.content()
        bad.year = 1
        await #expect(throws: StoreError.invalidRecord(RecordValidationError(field: "year", reason: "must be between 1870 and 2200"))) {
            _ = try await store.put(id: "missing", content: bad, expectedVersion: 3)
        }
    }

    @Test func unknownMessageTypeIsRefusedOverTheWireAndTheConnectionServesTheNextRequest() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.channel.writeAndFlush(Frame(type: 0x55, requestID: 21, payload: ByteBuffer(bytes: [9, 9])))
                let (message, id, _) = try await client.receive()
                #expect(message.errorCode == .unknownMessage)
                #expect(id == 21)
                try await client.send(.ping(ByteBuffer(string: "on")), id: 22)
                #expect(try await client.receive().message == .pong(ByteBuffer(string: "on")))
            }
        }
    }

    /// EOF mid-frame: the requests already whole are answered, the partial frame is dropped, and
    /// the store closes without an ERROR (PROTOCOL.md §1.2).
    @Test func clientClosingMidFrameGetsItsWholeRequestsAnsweredThenABareClose() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, _ in
            try await withWireClient(port: port) { client in
                try await client.handshake()
                try await client.send(.put(id: "eof", content: TestSupport.content(), expectedVersion: nil), id: 1)
                var partial = ByteBuffer()
                ClientMessage.get(id: "eof").frame(requestID: 2).write(to: &partial)
                partial.moveWriterIndex(to: partial.writerIndex - 2)
                let bytes = partial
                let channel = client.channel
                try await channel.eventLoop.submit {
                    let encoder = try channel.pipeline.syncOperations.context(handlerType: MessageToByteHandler<FrameEncoder>.self)
                    encoder.writeAndFlush(NIOAny(bytes), promise: nil)
                }.get()
                try await channel.close(mode: .output)
                let (message, id, _) = try await client.receive()
                guard case .written(let written, 1, _) = message else { Issue.record("expected WRITTEN, got \(message)"); return }
                #expect(written == "eof")
                #expect(id == 1)
                #expect(await client.receivesEndOfStream())
            }
        }
    }

    /// SEARCH: a text without words matches nothing (not an error); equal scores go to the
    /// record written earlier; a limit of 2^32-1 is served (taken as 1,000), not refused.
    @Test func searchWithoutWordsIsEmptyAndEqualScoresKeepWriteOrder() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        for id in ["tie/b", "tie/a", "tie/c"] {
            _ = try await store.put(id: id, content: TestSupport.content(reading: "The same words, word for word."), expectedVersion: nil)
        }
        let handler = StoreRequestHandler(store: store)
        for text in ["", "  ", "?!…", "\u{FEFF}"] {
            let frames = try handler.respondToRead(.search(text: text, RecordFilter(), limit: 10), requestID: 1, clientDictionaries: [])
            #expect(try frames.map { try ServerMessage(frame: $0) } == [.resultEnd(returned: 0, total: 0)], "text '\(text)'")
        }
        let frames = try handler.respondToRead(.search(text: "same words", RecordFilter(), limit: .max), requestID: 1, clientDictionaries: [])
        let ids = try frames.compactMap { frame -> String? in
            if case .hit(let hit) = try ServerMessage(frame: frame) { return hit.id } else { return nil }
        }
        #expect(ids == ["tie/b", "tie/a", "tie/c"])
        #expect(StoreRequestHandler.maximumSearchLimit == 1_000)
    }

    /// After training, a client that announced the trained id gets the stored raw deflate
    /// (encoding 2), fetches the dictionary with GET_DICTIONARY and inflates it; READY lists the
    /// id; all of it again after a restart.
    @Test func trainedDictionaryBodiesTravelCompressedToClientsThatAnnouncedItAndTheDictionaryCanBeFetched() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        try await withStoreServer(directory: dir) { port, store in
            for n in 0..<40 {
                _ = try await store.put(id: "t/\(n)", content: TestSupport.content(reading: "Reading number \(n) of the dream that ends."),
                                        expectedVersion: nil)
            }
            let trained = try #require(try store.trainDictionary(sampleBytes: 1 << 16))
            try store.compact()
            try await withWireClient(port: port) { client in
                #expect(try await client.handshake(dictionaries: [trained]) == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, trained])))
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .deflate)
                #expect(record.dictionaryID == trained)
                try await client.send(.getDictionary(id: trained), id: 2)
                guard case .dictionary(let id, let bytes) = try await client.receive().message else { Issue.record("no dictionary"); return }
                #expect(id == trained)
                let raw = try Zlib.decompress(Array(buffer: record.body), dictionary: bytes, raw: true)
                #expect(try RecordBody.decode(ByteBuffer(bytes: raw)).reading == "Reading number 7 of the dream that ends.")
                try await client.send(.getDictionary(id: 1), id: 3)
                #expect(try await client.receive().message == .dictionary(id: 1, bytes: CompressionDictionary.v1.bytes))
                try await client.send(.getDictionary(id: 999), id: 4)
                #expect(try await client.receive().message.errorCode == .notFound)
            }
            // A client that announced only the built-in dictionary still gets the body inflated.
            try await withWireClient(port: port) { client in
                try await client.handshake(dictionaries: [1])
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .plain)
            }
        }
        // And after a restart: the dictionary file is loaded, announced and sent as before.
        try await withStoreServer(directory: dir) { port, store in
            let trained = try #require(store.dictionaries.trained.last?.id)
            try await withWireClient(port: port) { client in
                #expect(try await client.handshake(dictionaries: [trained]) == .ready(Ready(maximumFrameSize: 1 << 20, dictionaries: [1, trained])))
                try await client.send(.get(id: "t/7"), id: 1)
                guard case .record(let record) = try await client.receive().message else { Issue.record("no record"); return }
                #expect(record.encoding == .deflate)
                #expect(record.dictionaryID == trained)
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ListingOrderTests {
    /// FILMS: byte order of titles; the most recently written record gives year and director.
    /// THEMES: most records first, then byte order of the tag.
    @Test func filmsAndThemesAreOrderedAndTheLatestRecordSpeaksForTheFilm() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await TestSupport.openStore(dir, fsync: .never)
        defer { store.close() }
        var old = TestSupport.content(film: "Zeta", themes: ["b", "a"])
        old.year = 1999
        old.director = "Old Name"
        _ = try await store.put(id: "z1", content: old, expectedVersion: nil)
        var new = old
        new.year = 2001
        new.director = "New Name"
        new.themes = ["a"]
        _ = try await store.put(id: "z2", content: new, expectedVersion: nil)
        _ = try await store.put(id: "e1", content: TestSupport.content(film: "Éclair", themes: ["c"]), expectedVersion: nil)
        _ = try await store.put(id: "a1", content: TestSupport.content(film: "apple", themes: ["c"]), expectedVersion: nil)
        let films = store.films()
        #expect(films.map(\.film) == ["Zeta", "apple", "Éclair"])
        #expect(films.first.map { ($0.year, $0.director, $0.records) } ?? (0, "", 0) == (2001, "New Name", 2))
        // z1 rewritten: now it is the latest.
        _ = try await store.put(id: "z1", content: old, expectedVersion: nil)
        #expect(store.films().first?.director == "Old Name")
        #expect(store.themes(film: nil).map(\.theme) == ["a", "c", "b"])
        #expect(store.themes(film: "Zeta").map { "\($0.theme)=\($0.records)" } == ["a=2", "b=1"])
        #expect(store.themes(film: "No Such Film").isEmpty)
    }
}
