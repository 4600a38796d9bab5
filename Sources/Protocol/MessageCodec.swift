import EpilogueModel
import NIOCore

// Payload layouts of every message. docs/PROTOCOL.md is the normative description; the golden
// vectors in docs/protocol-vectors pin these bytes.

extension ClientMessage {
    public func encodePayload(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let hello):
            buffer.writeInteger(WireProtocol.magic)
            buffer.writeWireList(hello.versions) { $0.writeInteger($1) }
            buffer.writeWireString(hello.clientName)
            buffer.writeWireList(hello.dictionaries) { $0.writeInteger($1) }
        case .authenticate(let proof):
            buffer.writeWireBytes(proof)
        case .ping(let data):
            buffer.writeWireBytes(data)
        case .get(let id):
            buffer.writeWireString(id)
        case .put(let id, let content, let expectedVersion):
            buffer.writeWireString(id)
            RecordBody.write(content, to: &buffer)
            buffer.writeWireOptional(expectedVersion) { $0.writeInteger($1) }
        case .delete(let id, let expectedVersion):
            buffer.writeWireString(id)
            buffer.writeWireOptional(expectedVersion) { $0.writeInteger($1) }
        case .query(let filter, let limit, let offset):
            filter.write(to: &buffer)
            buffer.writeInteger(limit)
            buffer.writeInteger(offset)
        case .search(let text, let filter, let limit, let offset, let fuzzy):
            buffer.writeWireString(text)
            filter.write(to: &buffer)
            buffer.writeInteger(limit)
            // Trailing and optional: a first-page SEARCH stays byte-identical to one from before
            // `offset` existed, so older clients and stores keep understanding each other.
            if offset != 0 || fuzzy { buffer.writeInteger(offset) }
            if fuzzy { buffer.writeInteger(UInt8(1)) }
        case .listFilms, .stats, .backup:
            break
        case .listThemes(let film):
            buffer.writeWireOptional(film) { $0.writeWireString($1) }
        case .getDictionary(let id):
            buffer.writeInteger(id)
        case .export(let filter):
            filter.write(to: &buffer)
        case .import(let existing, let items):
            buffer.writeInteger(existing.rawValue)
            buffer.writeWireList(items) { b, item in
                b.writeInteger(item.line)
                b.writeWireString(item.id)
                RecordBody.write(item.content, to: &b)
                b.writeWireOptional(item.expectedVersion) { $0.writeInteger($1) }
                b.writeWireOptional(item.version) { $0.writeInteger($1) }
                b.writeWireOptional(item.updatedAt) { $0.writeInteger($1) }
            }
        case .track(let mode):
            buffer.writeInteger(mode.rawValue)
        }
    }

    public func frame(requestID: UInt32, traceID: UInt64? = nil) -> Frame {
        var payload = ByteBuffer()
        encodePayload(into: &payload)
        return Frame(type: type.rawValue, requestID: requestID, traceID: traceID, payload: payload)
    }

    /// Interprets a frame sent by a client. Response types are rejected here.
    public init(frame: Frame) throws {
        // Flags first: a malformed frame is a decoding error whatever its type.
        guard !frame.flags.contains(.streamContinues) else {
            throw ProtocolError.invalidValue(field: "flags", reason: "STREAM_CONTINUES is only valid on responses")
        }
        guard let type = MessageType(rawValue: frame.type) else { throw ProtocolError.unknownMessageType(frame.type) }
        guard type.isRequest else { throw ProtocolError.unexpectedMessageType(frame.type) }
        var r = WireReader(frame.payload)
        switch type {
        case .hello:
            let magic = try r.u32("magic")
            guard magic == WireProtocol.magic else {
                throw ProtocolError.invalidValue(field: "magic", reason: "expected EPIL")
            }
            let versions = try r.list("versions", minimumItemSize: 2) { try $0.u16("version") }
            let name = try r.string("clientName")
            let dictionaries = try r.list("dictionaries", minimumItemSize: 4) { try $0.u32("dictionary") }
            self = .hello(Hello(versions: versions, clientName: name, dictionaries: dictionaries))
        case .authenticate:
            let proof = try r.bytes("proof")
            guard proof.readableBytes == 0 || proof.readableBytes == WireProtocol.proofSize else {
                throw ProtocolError.invalidValue(field: "proof", reason: "must be 0 or \(WireProtocol.proofSize) bytes, got \(proof.readableBytes)")
            }
            self = .authenticate(proof: Array(buffer: proof))
        case .ping:
            self = .ping(try r.bytes("data"))
        case .get:
            self = .get(id: try r.string("id"))
        case .put:
            let id = try r.string("id")
            let content = try RecordBody.read(from: &r)
            let expected = try r.optional("expectedVersion") { try $0.u64("expectedVersion") }
            self = .put(id: id, content: content, expectedVersion: expected)
        case .delete:
            let id = try r.string("id")
            let expected = try r.optional("expectedVersion") { try $0.u64("expectedVersion") }
            self = .delete(id: id, expectedVersion: expected)
        case .query:
            let filter = try RecordFilter(reader: &r)
            self = .query(filter, limit: try r.u32("limit"), offset: try r.u32("offset"))
        case .search:
            let text = try r.string("text")
            let filter = try RecordFilter(reader: &r)
            let limit = try r.u32("limit")
            let offset = r.buffer.readableBytes == 0 ? 0 : try r.u32("offset")
            let options = r.buffer.readableBytes == 0 ? 0 : try r.u8("options")
            guard options & ~1 == 0 else { throw ProtocolError.invalidValue(field: "options", reason: "unknown bits \(options)") }
            self = .search(text: text, filter, limit: limit, offset: offset, fuzzy: options & 1 != 0)
        case .listFilms:
            self = .listFilms
        case .listThemes:
            self = .listThemes(film: try r.optional("film") { try $0.string("film") })
        case .stats:
            self = .stats
        case .getDictionary:
            self = .getDictionary(id: try r.u32("dictionaryID"))
        case .export:
            self = .export(try RecordFilter(reader: &r))
        case .backup:
            self = .backup
        case .import:
            let raw = try r.u8("existing")
            guard let existing = ImportExisting(rawValue: raw) else {
                throw ProtocolError.invalidValue(field: "existing", reason: "unknown mode \(raw)")
            }
            let items = try r.list("items", minimumItemSize: 4 + 4 + 3) { r in
                let line = try r.u32("line")
                let id = try r.string("id")
                let content = try RecordBody.read(from: &r)
                return ImportItem(line: line, id: id, content: content,
                                  expectedVersion: try r.optional("expectedVersion") { try $0.u64("expectedVersion") },
                                  version: try r.optional("version") { try $0.u64("version") },
                                  updatedAt: try r.optional("updatedAt") { try $0.i64("updatedAt") })
            }
            self = .import(existing, items)
        case .track:
            self = .track(try r.trackingMode())
        default:
            throw ProtocolError.unexpectedMessageType(frame.type)
        }
        try r.expectEnd(messageType: frame.type)
    }
}

extension ServerMessage {
    public func encodePayload(into buffer: inout ByteBuffer) {
        switch self {
        case .challenge(let challenge):
            buffer.writeInteger(challenge.version)
            buffer.writeWireBytes(challenge.nonce)
            buffer.writeWireBool(challenge.authRequired)
            buffer.writeWireString(challenge.serverName)
        case .ready(let ready):
            buffer.writeInteger(ready.maximumFrameSize)
            buffer.writeWireList(ready.dictionaries) { $0.writeInteger($1) }
        case .pong(let data):
            buffer.writeWireBytes(data)
        case .record(let record):
            buffer.writeWireString(record.id)
            buffer.writeInteger(record.version)
            buffer.writeInteger(record.updatedAt)
            buffer.writeInteger(record.encoding.rawValue)
            buffer.writeInteger(record.dictionaryID)
            buffer.writeWireBytes(record.body)
        case .written(let id, let version, let updatedAt):
            buffer.writeWireString(id)
            buffer.writeInteger(version)
            buffer.writeInteger(updatedAt)
        case .deleted(let id, let version):
            buffer.writeWireString(id)
            buffer.writeInteger(version)
        case .hit(let hit):
            buffer.writeWireString(hit.id)
            buffer.writeInteger(hit.score.bitPattern)
            buffer.writeWireString(hit.film)
            buffer.writeWireString(hit.subject)
            buffer.writeWireString(hit.snippet)
        case .resultEnd(let returned, let total, let suggestions):
            buffer.writeInteger(returned)
            buffer.writeInteger(total)
            // Trailing and optional, so RESULT_END without suggestions is unchanged.
            if !suggestions.isEmpty { buffer.writeWireList(suggestions) { $0.writeWireString($1) } }
        case .films(let films):
            buffer.writeWireList(films) { b, film in
                b.writeWireString(film.film)
                b.writeInteger(film.year)
                b.writeWireString(film.director)
                b.writeInteger(film.records)
            }
        case .themes(let themes):
            buffer.writeWireList(themes) { b, theme in
                b.writeWireString(theme.theme)
                b.writeInteger(theme.records)
            }
        case .stats(let entries):
            buffer.writeWireList(entries) { b, entry in
                b.writeWireString(entry.name)
                b.writeInteger(entry.value)
            }
        case .dictionary(let id, let bytes):
            buffer.writeInteger(id)
            buffer.writeWireBytes(bytes)
        case .imported(let written, let skipped, let replaced):
            buffer.writeInteger(written)
            buffer.writeInteger(skipped)
            buffer.writeInteger(replaced)
        case .backupChunk(let file, let offset, let data):
            buffer.writeWireString(file)
            buffer.writeInteger(offset)
            buffer.writeWireBytes(data)
        case .backupEnd(let files):
            buffer.writeWireList(files) { b, file in
                b.writeWireString(file.name)
                b.writeInteger(file.length)
                b.writeInteger(file.crc32)
            }
        case .tracking(let mode):
            buffer.writeInteger(mode.rawValue)
        case .invalidate(let ids):
            buffer.writeWireList(ids) { $0.writeWireString($1) }
        case .error(let code, let message):
            buffer.writeInteger(code.rawValue)
            buffer.writeWireString(message)
        case .versionUnsupported(let versions, let message):
            buffer.writeInteger(ErrorCode.versionUnsupported.rawValue)
            buffer.writeWireString(message)
            buffer.writeWireList(versions) { $0.writeInteger($1) }
        }
    }

    public func frame(requestID: UInt32, flags: FrameFlags = []) -> Frame {
        var payload = ByteBuffer()
        encodePayload(into: &payload)
        return Frame(type: type.rawValue, flags: flags, requestID: requestID, payload: payload)
    }

    /// Interprets a frame sent by a server. Request types are rejected here.
    public init(frame: Frame) throws {
        guard let type = MessageType(rawValue: frame.type) else { throw ProtocolError.unknownMessageType(frame.type) }
        guard !type.isRequest else { throw ProtocolError.unexpectedMessageType(frame.type) }
        guard !frame.flags.contains(.traced) else {
            throw ProtocolError.invalidValue(field: "flags", reason: "TRACED is only valid on requests")
        }
        var r = WireReader(frame.payload)
        switch type {
        case .challenge:
            let version = try r.u16("version")
            let nonce = Array(buffer: try r.bytes("nonce"))
            guard nonce.count == WireProtocol.nonceSize else {
                throw ProtocolError.invalidValue(field: "nonce", reason: "must be \(WireProtocol.nonceSize) bytes, got \(nonce.count)")
            }
            let authRequired = try r.bool("authRequired")
            let name = try r.string("serverName")
            self = .challenge(Challenge(version: version, nonce: nonce, authRequired: authRequired, serverName: name))
        case .ready:
            let maximum = try r.u32("maximumFrameSize")
            // A store from before the list sends 4 bytes: no dictionaries to fetch.
            let dictionaries = r.buffer.readableBytes == 0 ? [] : try r.list("dictionaries", minimumItemSize: 4) { try $0.u32("dictionary") }
            self = .ready(Ready(maximumFrameSize: maximum, dictionaries: dictionaries))
        case .pong:
            self = .pong(try r.bytes("data"))
        case .record:
            let id = try r.string("id")
            let version = try r.u64("version")
            let updatedAt = try r.i64("updatedAt")
            let rawEncoding = try r.u8("encoding")
            guard let encoding = BodyEncoding(rawValue: rawEncoding) else {
                throw ProtocolError.invalidValue(field: "encoding", reason: "unknown body encoding \(rawEncoding)")
            }
            let dictionaryID = try r.u32("dictionaryID")
            let body = try r.bytes("body")
            self = .record(WireRecord(id: id, version: version, updatedAt: updatedAt, encoding: encoding,
                                      dictionaryID: dictionaryID, body: body))
        case .written:
            self = .written(id: try r.string("id"), version: try r.u64("version"), updatedAt: try r.i64("updatedAt"))
        case .deleted:
            self = .deleted(id: try r.string("id"), version: try r.u64("version"))
        case .hit:
            let id = try r.string("id")
            // NaN would not even equal itself; infinities are no BM25 score either (found by fuzzing).
            let score = try r.f64("score")
            guard score.isFinite else { throw ProtocolError.invalidValue(field: "score", reason: "must be a finite number") }
            self = .hit(SearchHit(id: id, score: score, film: try r.string("film"),
                                         subject: try r.string("subject"), snippet: try r.string("snippet")))
        case .resultEnd:
            let returned = try r.u32("returned"), total = try r.u32("total")
            let suggestions = r.buffer.readableBytes == 0 ? [] : try r.list("suggestions", minimumItemSize: 4) { try $0.string("suggestion") }
            self = .resultEnd(returned: returned, total: total, suggestions: suggestions)
        case .films:
            self = .films(try r.list("films", minimumItemSize: 14) { r in
                FilmSummary(film: try r.string("film"), year: try r.u16("year"), director: try r.string("director"),
                            records: try r.u32("records"))
            })
        case .themes:
            self = .themes(try r.list("themes", minimumItemSize: 8) { r in
                ThemeCount(theme: try r.string("theme"), records: try r.u32("records"))
            })
        case .statsResult:
            self = .stats(try r.list("stats", minimumItemSize: 12) { r in
                StatEntry(name: try r.string("name"), value: try r.i64("value"))
            })
        case .dictionary:
            self = .dictionary(id: try r.u32("dictionaryID"), bytes: Array(buffer: try r.bytes("bytes")))
        case .imported:
            self = .imported(written: try r.u32("written"), skipped: try r.u32("skipped"), replaced: try r.u32("replaced"))
        case .backupChunk:
            self = .backupChunk(file: try r.string("file"), offset: try r.u64("offset"), data: try r.bytes("data"))
        case .backupEnd:
            self = .backupEnd(try r.list("files", minimumItemSize: 16) { r in
                BackupFile(name: try r.string("name"), length: try r.u64("length"), crc32: try r.u32("crc32"))
            })
        case .tracking:
            self = .tracking(try r.trackingMode())
        case .invalidate:
            self = .invalidate(ids: try r.list("ids", minimumItemSize: 4) { try $0.string("id") })
        case .error:
            let rawCode = try r.u16("code")
            // Unknown codes from a newer server still surface as an error rather than a decode failure.
            let code = ErrorCode(rawValue: rawCode) ?? .internalError
            let message = try r.string("message")
            if code == .versionUnsupported {
                // Stores before the versions field sent none: read that as an empty list.
                let versions = r.buffer.readableBytes == 0 ? [] : try r.list("versions", minimumItemSize: 2) { try $0.u16("version") }
                self = .versionUnsupported(serverVersions: versions, message: message)
            } else {
                self = .error(code: code, message: message)
            }
        default:
            throw ProtocolError.unexpectedMessageType(frame.type)
        }
        try r.expectEnd(messageType: frame.type)
    }
}

extension WireReader {
    mutating func trackingMode() throws -> TrackingMode {
        let raw = try u8("mode")
        guard let mode = TrackingMode(rawValue: raw) else { throw ProtocolError.invalidValue(field: "mode", reason: "unknown tracking mode \(raw)") }
        return mode
    }
}

extension RecordFilter {
    func write(to buffer: inout ByteBuffer) {
        buffer.writeWireOptional(film) { $0.writeWireString($1) }
        buffer.writeWireOptional(theme) { $0.writeWireString($1) }
        buffer.writeWireOptional(sourceKind) { $0.writeInteger($1.rawValue) }
        buffer.writeWireOptional(subject) { $0.writeWireString($1) }
    }

    init(reader r: inout WireReader) throws {
        let film = try r.optional("film") { try $0.string("film") }
        let theme = try r.optional("theme") { try $0.string("theme") }
        let kind = try r.optional("sourceKind") { try $0.sourceKind() }
        let subject = try r.optional("subject") { try $0.string("subject") }
        self.init(film: film, theme: theme, sourceKind: kind, subject: subject)
    }
}
