import EpilogueProtocol
import EpilogueShared
import EpilogueStoreClient
import Foundation
import Logging
import Metrics
import NIOCore

/// What to send back for one line, and whether to close the connection afterwards.
struct GatewayReply: Sendable {
    var text: String
    var close = false

    static let none = GatewayReply(text: "")
}

/// One client connection's state (output format, write authorisation) and the execution of its
/// commands against the store. The server feeds it lines in order; it answers them in order.
struct GatewaySession {
    private let server: GatewayServer
    private var format = OutputFormat.text
    private var authorizedForWrites: Bool

    init(server: GatewayServer) {
        self.server = server
        self.authorizedForWrites = server.configuration.writeToken == nil
    }

    private var renderer: TextRenderer { TextRenderer(format: format) }

    mutating func handle(_ event: LineEvent) async -> GatewayReply {
        switch event {
        case .tooLong(let limit):
            record(command: "TOO_LONG", response: .error(code: "TOO_LARGE", message: ""), started: .now)
            return GatewayReply(text: TextResponse.error(code: "TOO_LARGE", message: "line longer than \(limit) bytes was discarded").serialized())
        case .line(var buffer):
            if buffer.readableBytesView.last == UInt8(ascii: "\r") { buffer.moveWriterIndex(to: buffer.writerIndex - 1) }
            guard let line = try? buffer.getUTF8ValidatedString(at: buffer.readerIndex, length: buffer.readableBytes) else {
                return GatewayReply(text: TextResponse.error(code: "BAD_REQUEST", message: "line is not valid UTF-8").serialized())
            }
            let command: TextCommand
            do {
                guard let parsed = try TextCommand.parse(line) else { return .none }
                command = parsed
            } catch {
                return GatewayReply(text: TextResponse.error(code: error.code, message: error.message).serialized())
            }
            let started = ContinuousClock.now
            let traceID = TraceID.make()
            let response = await execute(command, traceID: traceID)
            record(command: command.name, response: response, started: started)
            if let code = response.errorCode {
                server.logger.info("command failed", metadata: ["command": "\(command.name)", "code": "\(code)", "trace_id": "\(TraceID.format(traceID))"])
            } else {
                server.logger.debug("command served", metadata: ["command": "\(command.name)", "trace_id": "\(TraceID.format(traceID))"])
            }
            return GatewayReply(text: response.serialized(), close: command == .quit)
        }
    }

    private mutating func execute(_ command: TextCommand, traceID: UInt64) async -> TextResponse {
        do {
            switch command {
            case .help(let topic):
                return topic.map(TextHelp.topic) ?? TextHelp.overview()
            case .format(let format):
                self.format = format
                return .ok("format \(format.rawValue)")
            case .auth(let token):
                guard let expected = server.configuration.writeToken else { return .ok("no write token is set; writes are open") }
                guard ConstantTime.equal(Array(token.utf8), Array(expected.utf8)) else {
                    return .error(code: "UNAUTHORIZED", message: "wrong token")
                }
                authorizedForWrites = true
                return .ok("authorized for writes")
            case .quit:
                return .ok("bye")
            case .ping:
                _ = try await request(.ping(ByteBuffer(string: "gateway")), traceID)
                return .ok("PONG")
            case .films:
                guard case .films(let films) = try await single(.listFilms, traceID) else { return unexpected() }
                return .ok("\(films.count) films", body: renderer.films(films.map { ($0.film, Int($0.year), $0.director, Int($0.records)) }))
            case .themes(let film):
                guard case .themes(let themes) = try await single(.listThemes(film: film), traceID) else { return unexpected() }
                return .ok("\(themes.count) themes", body: renderer.themes(themes.map { ($0.theme, Int($0.records)) }))
            case .get(let id):
                guard case .record(let wire) = try await single(.get(id: id), traceID) else { return unexpected() }
                return .ok(id, body: renderer.record(try Self.record(from: wire)))
            case .find(let filters, let limit, let offset):
                let answers = try await request(.query(filters.wire, limit: UInt32(limit), offset: UInt32(offset)), traceID)
                var records: [Record] = []
                var total = 0
                for answer in answers {
                    switch answer {
                    case .record(let wire): records.append(try Self.record(from: wire))
                    case .resultEnd(_, let all): total = Int(all)
                    default: return unexpected()
                    }
                }
                let summary = records.isEmpty ? "0 of \(total) records" : "\(records.count) of \(total) records (\(offset + 1)–\(offset + records.count))"
                return .ok(summary, body: renderer.recordList(records))
            case .search(let text, let filters, let limit):
                let answers = try await request(.search(text: text, filters.wire, limit: UInt32(limit)), traceID)
                let hits: [SearchResultRow] = answers.compactMap {
                    guard case .hit(let hit) = $0 else { return nil }
                    return SearchResultRow(id: hit.id, score: hit.score, film: hit.film, subject: hit.subject, snippet: hit.snippet)
                }
                return .ok("\(hits.count) \(hits.count == 1 ? "hit" : "hits")", body: renderer.hits(hits))
            case .put(let id, let content, let ifVersion):
                guard authorizedForWrites else { return .error(code: "UNAUTHORIZED", message: "PUT needs AUTH <token> first") }
                guard case .written(_, let version, _) = try await single(.put(id: id, content: content, expectedVersion: ifVersion), traceID) else { return unexpected() }
                return .ok("\(id) version \(version)")
            case .delete(let id, let ifVersion):
                guard authorizedForWrites else { return .error(code: "UNAUTHORIZED", message: "DEL needs AUTH <token> first") }
                guard case .deleted(_, let version) = try await single(.delete(id: id, expectedVersion: ifVersion), traceID) else { return unexpected() }
                return .ok("\(id) deleted (was version \(version))")
            case .stats:
                return await stats(traceID)
            }
        } catch let error as StoreClientError {
            switch error {
            case .unavailable(let why): return .error(code: "STORE_UNAVAILABLE", message: why)
            case .timeout: return .error(code: "TIMEOUT", message: error.description)
            case .protocolError: return .error(code: "INTERNAL", message: error.description)
            }
        } catch let error as StoreRefusal {
            return .error(code: error.code.name, message: error.message)
        } catch {
            return .error(code: "INTERNAL", message: "\(error)")
        }
    }

    private func stats(_ traceID: UInt64) async -> TextResponse {
        var rows: [(name: String, value: String)] = [
            ("gateway_connections", "\(server.connectionCount)"),
            ("gateway_connections_total", "\(server.connectionsAccepted)"),
            ("gateway_uptime_seconds", "\(Int(Date().timeIntervalSince(server.startedAt)))"),
            ("store_address", "\(server.pool.configuration.host):\(server.pool.configuration.port)"),
        ]
        do {
            guard case .stats(let entries) = try await single(.stats, traceID) else { return unexpected() }
            rows.append(("store_reachable", "yes"))
            rows += entries.map { ("store_\($0.name)", "\($0.value)") }
        } catch {
            rows.append(("store_reachable", "no"))
            rows.append(("store_error", "\(error)"))
        }
        return .ok("\(rows.count) figures", body: renderer.stats(rows))
    }

    private func request(_ message: ClientMessage, _ traceID: UInt64) async throws -> [ServerMessage] {
        let answers = try await server.pool.request(message, traceID: traceID)
        if case .error(let code, let text)? = answers.last { throw StoreRefusal(code: code, message: text) }
        return answers
    }

    private func single(_ message: ClientMessage, _ traceID: UInt64) async throws -> ServerMessage {
        guard let first = try await request(message, traceID).first else { throw StoreClientError.protocolError("empty answer") }
        return first
    }

    private func unexpected() -> TextResponse {
        .error(code: "INTERNAL", message: "unexpected answer from the store")
    }

    /// Inflates a record sent compressed by the store (see PROTOCOL.md, "Who inflates").
    static func record(from wire: WireRecord) throws -> Record {
        let body: ByteBuffer
        switch wire.encoding {
        case .plain: body = wire.body
        case .zlib: body = ByteBuffer(bytes: try BodyCompression.decompress(Array(buffer: wire.body), dictionaryID: wire.dictionaryID))
        }
        return Record(id: wire.id, content: try RecordBody.decode(body), version: wire.version, updatedAt: wire.updatedAt)
    }

    private func record(command: String, response: TextResponse, started: ContinuousClock.Instant) {
        Counter(label: "epilogue_gateway_commands_total", dimensions: [("command", command)]).increment()
        let elapsed = ContinuousClock.now - started
        Timer(label: "epilogue_gateway_command_duration_seconds", dimensions: [("command", command)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        if let code = response.errorCode {
            Counter(label: "epilogue_gateway_errors_total", dimensions: [("code", code)]).increment()
        }
    }
}

/// An ERROR answer from the store, carried to the text reply.
struct StoreRefusal: Error {
    var code: ErrorCode
    var message: String
}

extension FilterOptions {
    var wire: RecordFilter { RecordFilter(film: film, theme: theme, sourceKind: sourceKind, subject: subject) }
}
