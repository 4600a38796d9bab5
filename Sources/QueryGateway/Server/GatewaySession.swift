import EpilogueProtocol
import EpilogueModel
import EpilogueCompression
import EpilogueServerKit
import EpilogueStoreClient
import Foundation
import Logging
import Metrics
import NIOCore

/// What one command line needs: nothing (a blank line), an answer at once, or a store request
/// whose answer `render` turns into the reply.
enum GatewayStep: Sendable {
    case none
    case reply(TextResponse, close: Bool)
    case ask(ClientMessage, render: @Sendable (Result<[ServerMessage], any Error>) -> TextResponse)
}

/// One client connection's state (output format, write authorisation) and the planning of its
/// commands. No I/O: `GatewayConnectionHandler` sends what a step asks of the store and writes the
/// replies in command order. Session commands (FORMAT, AUTH) take effect when their line is read,
/// so a pipelined `FORMAT json` applies to exactly the commands after it.
struct GatewaySession {
    private let writeToken: String?
    private var format = OutputFormat.text
    private var authorizedForWrites: Bool

    init(writeToken: String?) {
        self.writeToken = writeToken
        self.authorizedForWrites = writeToken == nil
    }

    private var renderer: TextRenderer { TextRenderer(format: format) }

    /// Plans the answer to one line; returns the command's name for metrics ("" for none).
    mutating func plan(_ event: LineEvent, gatewayFigures: () -> [(name: String, value: String)]) -> (command: String, step: GatewayStep) {
        switch event {
        case .tooLong(let limit):
            return ("TOO_LONG", .reply(.error(code: .tooLarge, message: "line longer than \(limit) bytes was discarded"), close: false))
        case .line(let line):
            let command: TextCommand
            do {
                guard let parsed = try TextCommand.parse(line: line) else { return ("", .none) }
                command = parsed
            } catch {
                return ("INVALID", .reply(.error(code: error.code, message: error.message), close: false))
            }
            return (command.name, plan(command, gatewayFigures: gatewayFigures))
        }
    }

    private mutating func plan(_ command: TextCommand, gatewayFigures: () -> [(name: String, value: String)]) -> GatewayStep {
        let renderer = self.renderer
        switch command {
        case .help(let topic):
            return .reply(topic.map(TextHelp.topic) ?? TextHelp.overview(), close: false)
        case .format(let format):
            self.format = format
            return .reply(.ok("format \(format.rawValue)"), close: false)
        case .auth(let token):
            guard let expected = writeToken else { return .reply(.ok("no write token is set; writes are open"), close: false) }
            guard ConstantTime.equal(Array(token.utf8), Array(expected.utf8)) else {
                return .reply(.error(code: .unauthorized, message: "wrong token"), close: false)
            }
            authorizedForWrites = true
            return .reply(.ok("authorized for writes"), close: false)
        case .quit:
            return .reply(.ok("bye"), close: true)
        case .ping:
            return Self.ask(.ping(ByteBuffer(string: "gateway"))) { _ in .ok("PONG") }
        case .films:
            return Self.ask(.listFilms) { answers in
                guard case .films(let films)? = answers.first else { return Self.unexpected }
                return .ok("\(films.count) films", body: renderer.films(films.map { ($0.film, Int($0.year), $0.director, Int($0.records)) }))
            }
        case .themes(let film):
            return Self.ask(.listThemes(film: film)) { answers in
                guard case .themes(let themes)? = answers.first else { return Self.unexpected }
                return .ok("\(themes.count) themes", body: renderer.themes(themes.map { ($0.theme, Int($0.records)) }))
            }
        case .get(let id):
            return Self.ask(.get(id: id)) { answers in
                guard case .record(let wire)? = answers.first else { return Self.unexpected }
                return .ok(id, body: renderer.record(try Self.record(from: wire)))
            }
        case .find(let filters, let limit, let offset):
            return Self.ask(.query(filters, limit: UInt32(limit), offset: UInt32(offset))) { answers in
                var records: [Record] = []
                var total = 0
                for answer in answers {
                    switch answer {
                    case .record(let wire): records.append(try Self.record(from: wire))
                    case .resultEnd(_, let all, _): total = Int(all)
                    default: return Self.unexpected
                    }
                }
                return .ok(TextRenderer.pageSummary(returned: records.count, total: total, offset: offset, noun: "records"),
                           body: renderer.recordList(records))
            }
        case .search(let text, let filters, let limit, let offset, let fuzzy):
            return Self.ask(.search(text: text, filters, limit: UInt32(limit), offset: UInt32(offset), fuzzy: fuzzy)) { answers in
                var hits: [SearchHit] = []
                var total = 0
                var suggestions: [String] = []
                for answer in answers {
                    switch answer {
                    case .hit(let hit): hits.append(hit)
                    case .resultEnd(_, let all, let suggested):
                        total = Int(all)
                        suggestions = suggested
                    default: return Self.unexpected
                    }
                }
                let noun = total == 1 ? "hit" : "hits"
                let didYouMean = suggestions.isEmpty ? "" : " (did you mean: \(suggestions.joined(separator: ", "))?)"
                // With fuzzy=1 the store searched with its suggestions: say which.
                let corrected = suggestions.isEmpty ? "" : " (fuzzy: \(suggestions.joined(separator: ", ")))"
                let summary = total == 0 ? "0 hits" + didYouMean
                    : TextRenderer.pageSummary(returned: hits.count, total: total, offset: offset, noun: noun) + corrected
                return .ok(summary, body: renderer.hits(hits, firstRank: offset + 1))
            }
        case .put(let id, let content, let ifVersion):
            guard authorizedForWrites else { return .reply(.error(code: .unauthorized, message: "PUT needs AUTH <token> first"), close: false) }
            return Self.ask(.put(id: id, content: content, expectedVersion: ifVersion)) { answers in
                guard case .written(_, let version, _)? = answers.first else { return Self.unexpected }
                return .ok("\(id) version \(version)")
            }
        case .delete(let id, let ifVersion):
            guard authorizedForWrites else { return .reply(.error(code: .unauthorized, message: "DEL needs AUTH <token> first"), close: false) }
            return Self.ask(.delete(id: id, expectedVersion: ifVersion)) { answers in
                guard case .deleted(_, let version)? = answers.first else { return Self.unexpected }
                return .ok("\(id) deleted (was version \(version))")
            }
        case .export(let filters):
            // JSON whatever FORMAT says: the output is for files and IMPORT, not for reading.
            let json = TextRenderer(format: .json)
            return Self.ask(.export(filters)) { answers in
                var body: [String] = []
                body.reserveCapacity(answers.count)
                for answer in answers {
                    switch answer {
                    case .record(let wire): body += json.record(try Self.record(from: wire))
                    case .resultEnd: break
                    default: return Self.unexpected
                    }
                }
                return .ok("\(body.count) records", body: body)
            }
        case .stats:
            // Gateway figures are taken when the command is read; the store's when it answers.
            let gateway = gatewayFigures()
            return .ask(.stats) { result in
                var rows = gateway
                switch result {
                case .success(let answers):
                    if case .stats(let entries)? = answers.last {
                        rows.append(("store_reachable", "yes"))
                        rows += entries.map { ("store_\($0.name)", "\($0.value)") }
                    } else if case .error(let code, let text)? = answers.last {
                        rows.append(("store_reachable", "yes"))
                        rows.append(("store_error", "\(code.name): \(text)"))
                    } else {
                        return Self.unexpected
                    }
                case .failure(let error):
                    rows.append(("store_reachable", "no"))
                    rows.append(("store_error", "\(error)"))
                }
                return .ok("\(rows.count) figures", body: renderer.stats(rows))
            }
        }
    }

    /// A store request whose answer `render` formats; the store's ERROR answers and transport
    /// failures become the protocol's error replies here, once for every command.
    private static func ask(_ message: ClientMessage, _ render: @escaping @Sendable ([ServerMessage]) throws -> TextResponse) -> GatewayStep {
        .ask(message) { result in
            do {
                let answers = try result.get()
                if case .error(let code, let text)? = answers.last { return .error(code: TextErrorCode(storeCode: code), message: text) }
                guard !answers.isEmpty else { return unexpected }
                return try render(answers)
            } catch let error as StoreClientError {
                switch error {
                case .unavailable(let why): return .error(code: .storeUnavailable, message: why)
                case .timeout: return .error(code: .timeout, message: error.description)
                case .protocolError: return .error(code: .internalError, message: error.description)
                }
            } catch {
                return .error(code: .internalError, message: "\(error)")
            }
        }
    }

    private static let unexpected = TextResponse.error(code: .internalError, message: "unexpected answer from the store")

    /// Inflates a record sent compressed by the store (see PROTOCOL.md, "Who inflates").
    static func record(from wire: WireRecord) throws -> Record {
        let body: ByteBuffer
        switch wire.encoding {
        case .plain: body = wire.body
        case .zlib: body = ByteBuffer(bytes: try BodyCompression.decompress(Array(buffer: wire.body), dictionaryID: wire.dictionaryID))
        // Sent only for trained dictionaries, which the gateway does not announce.
        case .deflate: throw ZlibError.dictionaryMismatch
        }
        return Record(id: wire.id, content: try RecordBody.decode(body), version: wire.version, updatedAt: wire.updatedAt)
    }
}
