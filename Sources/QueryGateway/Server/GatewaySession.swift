import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import EpilogueStoreClient
import Foundation
import Logging
import Metrics
import NIOCore

/// What one command line needs: nothing (a blank line), an answer at once, or a store request
/// whose answer becomes the reply.
enum GatewayStep: Sendable {
    case none
    case reply(TextResponse, close: Bool)
    case ask(StoreCall)
    /// EXPORT: the handler streams the records as JSON lines when its reply's turn comes.
    case export(RecordFilter)
    /// IMPORT: the lines up to `.` are its body (`GatewayImport` answers once it has ended).
    case startImport(GatewayImport)
}

/// A command's typed store request and how its answer (or the failure) becomes the reply: the
/// step's only link to the store.
struct StoreCall: Sendable {
    /// Sends the request at once (the caller's order is the store's, per lane); the future never fails.
    let send: @Sendable (_ store: any StoreRequester, _ traceID: UInt64) -> EventLoopFuture<TextResponse>

    init<Answer>(_ request: StoreRequest<Answer>, render: @escaping @Sendable (Result<Answer, StoreClientError>) -> TextResponse) {
        send = { store, traceID in
            store.send(request, traceID: traceID).map { render(.success($0)) }
                .recover { render(.failure($0 as? StoreClientError ?? .unavailable("\($0)"))) }
        }
    }
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
                let reply = TextResponse.error(code: error.code, message: error.message)
                // A refused IMPORT's body still follows: read it as a body, not as commands.
                if Self.namesImport(line) { return ("IMPORT", .startImport(GatewayImport(refusing: reply))) }
                return ("INVALID", .reply(reply, close: false))
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
            return Self.ask(.ping("gateway")) { _ in .ok("PONG") }
        case .films:
            return Self.ask(.films) { films in
                .ok("\(films.count) films", body: renderer.films(films.map { ($0.film, Int($0.year), $0.director, Int($0.records)) }))
            }
        case .themes(let film):
            return Self.ask(.themes(film: film)) { themes in
                .ok("\(themes.count) themes", body: renderer.themes(themes.map { ($0.theme, Int($0.records)) }))
            }
        case .get(let id):
            return Self.ask(.get(id: id)) { record in .ok(id, body: renderer.record(record)) }
        case .find(let filters, let limit, let offset):
            return Self.ask(.find(filters, limit: limit, offset: offset)) { page in
                .ok(TextRenderer.pageSummary(returned: page.records.count, total: page.total, offset: offset, noun: "records"),
                    body: renderer.recordList(page.records))
            }
        case .search(let text, let filters, let limit, let offset, let fuzzy):
            return Self.ask(.search(text, filters, limit: limit, offset: offset, fuzzy: fuzzy)) { page in
                let hits = page.hits
                let noun = page.total == 1 ? "hit" : "hits"
                let didYouMean = page.suggestions.isEmpty ? "" : " (did you mean: \(page.suggestions.joined(separator: ", "))?)"
                // With fuzzy=1 the store searched with its suggestions: say which.
                let corrected = page.suggestions.isEmpty ? "" : " (fuzzy: \(page.suggestions.joined(separator: ", ")))"
                let summary = page.total == 0 ? "0 hits" + didYouMean
                    : TextRenderer.pageSummary(returned: hits.count, total: page.total, offset: offset, noun: noun) + corrected
                return .ok(summary, body: renderer.hits(hits, firstRank: offset + 1))
            }
        case .put(let id, let content, let ifVersion):
            guard authorizedForWrites else { return .reply(.error(code: .unauthorized, message: "PUT needs AUTH <token> first"), close: false) }
            return Self.ask(.put(id: id, content: content, expectedVersion: ifVersion)) { written in .ok("\(id) version \(written.version)") }
        case .delete(let id, let ifVersion):
            guard authorizedForWrites else { return .reply(.error(code: .unauthorized, message: "DEL needs AUTH <token> first"), close: false) }
            return Self.ask(.delete(id: id, expectedVersion: ifVersion)) { version in .ok("\(id) deleted (was version \(version))") }
        case .export(let filters):
            return .export(filters)
        case .import(let existing, let keepVersions):
            guard authorizedForWrites else { return .startImport(GatewayImport(refusing: .error(code: .unauthorized, message: "IMPORT needs AUTH <token> first"))) }
            return .startImport(GatewayImport(existing: existing, keepVersions: keepVersions))
        case .stats:
            // Gateway figures are taken when the command is read; the store's when it answers.
            let gateway = gatewayFigures()
            return .ask(StoreCall(.stats) { result in
                var rows = gateway
                switch result {
                case .success(let entries):
                    rows.append(("store_reachable", "yes"))
                    rows += entries.map { ("store_\($0.name)", "\($0.value)") }
                case .failure(.refused(let code, let text)):
                    rows.append(("store_reachable", "yes"))
                    rows.append(("store_error", "\(code.name): \(text)"))
                case .failure(.protocolError(let why)):
                    return Self.reply(to: .protocolError(why))
                case .failure(let error):
                    rows.append(("store_reachable", "no"))
                    rows.append(("store_error", "\(error)"))
                }
                return .ok("\(rows.count) figures", body: renderer.stats(rows))
            })
        }
    }

    /// A store request whose answer `render` formats; the store's refusals and transport failures
    /// become the protocol's error replies here, once for every command.
    private static func ask<Answer>(_ request: StoreRequest<Answer>, _ render: @escaping @Sendable (Answer) -> TextResponse) -> GatewayStep {
        .ask(StoreCall(request) { result in
            switch result {
            case .success(let answer): return render(answer)
            case .failure(let error): return reply(to: error)
            }
        })
    }

    /// Whether a line that did not parse starts with the word IMPORT.
    private static func namesImport(_ line: ByteBuffer) -> Bool {
        let word = line.readableBytesView.drop { $0 == 0x20 || $0 == 0x09 }.prefix { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }
        return word.count == 6 && String(decoding: word, as: UTF8.self).uppercased() == "IMPORT"
    }

    static func reply(to error: StoreClientError) -> TextResponse {
        switch error {
        case .refused(let code, let text): return .error(code: TextErrorCode(storeCode: code), message: text)
        case .unavailable(let why): return .error(code: .storeUnavailable, message: why)
        case .timeout: return .error(code: .timeout, message: error.description)
        case .protocolError: return .error(code: .internalError, message: error.description)
        }
    }
}
