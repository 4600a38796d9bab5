import EpilogueModel
import Foundation
import NIOCore

/// A refused command line: the stable CODE and a message for `ERR <CODE> <message>`.
public struct TextCommandError: Error, Equatable {
    public var code: TextErrorCode
    public var message: String

    static func badRequest(_ message: String) -> TextCommandError { TextCommandError(code: .badRequest, message: message) }

    static func unknownCommand(_ word: String) -> TextCommandError {
        TextCommandError(code: .unknownCommand, message: "\(echo(word)) is not a command (try HELP)")
    }
}

/// Quotes user input for an error message, shortened: a 64 KiB word must not come back whole.
fileprivate func echo(_ text: String) -> String {
    let limit = 60
    return text.count <= limit ? "'\(text)'" : "'\(text.prefix(limit))…'"
}

public enum OutputFormat: String, Sendable, Equatable {
    case text
    case json
}

/// A parsed text-protocol command. Parsing is pure; `GatewaySession` executes them.
public enum TextCommand: Equatable, Sendable {
    case help(topic: String?)
    case ping
    case films
    case themes(film: String?)
    case get(id: String)
    case find(RecordFilter, limit: Int, offset: Int)
    case search(text: String, RecordFilter, limit: Int, offset: Int = 0, fuzzy: Bool = false)
    case put(id: String, content: RecordContent, ifVersion: UInt64?)
    case delete(id: String, ifVersion: UInt64?)
    case export(RecordFilter)
    /// JSON lines follow, up to a line `.` (`GatewayImport`).
    case `import`(ImportExisting, keepVersions: Bool)
    case stats
    case format(OutputFormat)
    case auth(token: String)
    case quit

    public static let findDefaultLimit = 20
    public static let findMaximumLimit = 1_000
    public static let searchDefaultLimit = 10
    public static let searchMaximumLimit = 100

    /// The command names, as HELP lists them.
    public static let names = ["HELP", "PING", "FILMS", "THEMES", "GET", "FIND", "SEARCH", "PUT", "DEL", "EXPORT", "IMPORT", "STATS", "FORMAT", "AUTH", "QUIT"]

    /// Upper-case name of the command, for logs and metrics.
    public var name: String {
        switch self {
        case .help: return "HELP"
        case .ping: return "PING"
        case .films: return "FILMS"
        case .themes: return "THEMES"
        case .get: return "GET"
        case .find: return "FIND"
        case .search: return "SEARCH"
        case .put: return "PUT"
        case .delete: return "DEL"
        case .export: return "EXPORT"
        case .import: return "IMPORT"
        case .stats: return "STATS"
        case .format: return "FORMAT"
        case .auth: return "AUTH"
        case .quit: return "QUIT"
        }
    }

    /// Parses one line (without its line ending). Returns nil for a blank line, which gets no answer.
    public static func parse(_ line: String) throws(TextCommandError) -> TextCommand? {
        var tokens = try LineTokenizer.tokenize(line)[...]
        guard let first = tokens.popFirst() else { return nil }
        guard first.key == nil, !first.quoted else { throw .unknownCommand(first.text) }
        let name = first.value.uppercased()
        var args = try Arguments(command: name, tokens: Array(tokens))
        switch name {
        case "HELP":
            let topic = try args.optionalWord()
            try args.finish(options: [])
            return .help(topic: topic?.uppercased())
        case "PING":
            try args.finish(options: [])
            return .ping
        case "FILMS":
            try args.finish(options: [])
            return .films
        case "THEMES":
            try args.finish(options: ["film"])
            return .themes(film: try args.filters().film)
        case "GET":
            let id = try args.word("id")
            try args.finish(options: [])
            return .get(id: id)
        case "FIND":
            try args.finish(options: ["film", "theme", "source", "subject", "limit", "offset"])
            return .find(try args.filters(),
                         limit: try args.integer("limit", default: findDefaultLimit, range: 1...findMaximumLimit),
                         offset: try args.integer("offset", default: 0, range: 0...1_000_000_000))
        case "SEARCH":
            // The words as typed: quotes belong to the query language (phrases), which the store parses.
            let words = args.rawWords
            _ = args.remainingWords()
            try args.finish(options: ["film", "theme", "source", "subject", "limit", "offset", "fuzzy"])
            guard !words.isEmpty else { throw .badRequest("SEARCH needs at least one word, e.g. SEARCH dream") }
            return .search(text: words.joined(separator: " "), try args.filters(),
                           limit: try args.integer("limit", default: searchDefaultLimit, range: 1...searchMaximumLimit),
                           offset: try args.integer("offset", default: 0, range: 0...1_000_000_000),
                           fuzzy: try args.integer("fuzzy", default: 0, range: 0...1) == 1)
        case "PUT":
            let id = try args.word("id")
            try args.finish(options: ["film", "year", "director", "subject", "reading", "source", "sourcekind", "themes", "ifversion"])
            return .put(id: id, content: try args.recordContent(), ifVersion: try args.version())
        case "DEL", "DELETE":
            let id = try args.word("id")
            try args.finish(options: ["ifversion"])
            return .delete(id: id, ifVersion: try args.version())
        case "EXPORT":
            try args.finish(options: ["film", "theme", "source", "subject"])
            return .export(try args.filters())
        case "IMPORT":
            var keepVersions = false
            while let word = try args.optionalWord() {
                guard word.lowercased() == "keep-versions" else { throw .badRequest("unexpected argument \(echo(word)) for IMPORT (it takes mode=replace|skip and keep-versions)") }
                keepVersions = true
            }
            try args.finish(options: ["mode"])
            let mode = args.option("mode") ?? "replace"
            guard let existing = ["replace": ImportExisting.replace, "skip": .skip][mode.lowercased()] else {
                throw .badRequest("mode must be replace or skip, not \(echo(mode))")
            }
            return .import(existing, keepVersions: keepVersions)
        case "STATS":
            try args.finish(options: [])
            return .stats
        case "FORMAT":
            let word = try args.word("format (text or json)")
            try args.finish(options: [])
            guard let format = OutputFormat(rawValue: word.lowercased()) else { throw .badRequest("FORMAT takes text or json, not \(echo(word))") }
            return .format(format)
        case "AUTH":
            let token = try args.word("token")
            try args.finish(options: [])
            return .auth(token: token)
        case "QUIT", "EXIT":
            try args.finish(options: [])
            return .quit
        default:
            throw .unknownCommand(first.text)
        }
    }
}

/// The arguments after a command name, consumed as the command expects them.
private struct Arguments {
    let command: String
    var words: [String] = []
    /// The words as typed (quotes kept), for SEARCH's query.
    var rawWords: [String] = []
    var options: [String: String] = [:]
    private var order: [String] = []

    init(command: String, tokens: [LineToken]) throws(TextCommandError) {
        self.command = command
        for token in tokens {
            if let key = token.key {
                // Last-one-wins would hide a typo such as `film=A film=B`.
                guard options[key] == nil else { throw .badRequest("option \(echo(Self.display(key))) given twice") }
                options[key] = token.value
                order.append(key)
            } else {
                words.append(token.value)
                rawWords.append(token.raw)
            }
        }
    }

    mutating func word(_ what: String) throws(TextCommandError) -> String {
        guard !words.isEmpty else { throw .badRequest("\(command) needs \(what), e.g. \(TextHelp.example(for: command))") }
        return words.removeFirst()
    }

    mutating func optionalWord() throws(TextCommandError) -> String? {
        words.isEmpty ? nil : words.removeFirst()
    }

    mutating func remainingWords() -> [String] {
        defer { words.removeAll() }
        return words
    }

    /// Rejects leftover words and options the command does not know.
    func finish(options allowed: Set<String>) throws(TextCommandError) {
        if let extra = words.first { throw .badRequest("unexpected argument \(echo(extra)) for \(command)") }
        for key in order where !allowed.contains(key) {
            let expected = allowed.isEmpty ? "it takes none" : "expected " + allowed.sorted().map(Self.display).joined(separator: ", ")
            throw .badRequest("unknown option \(echo(key)) for \(command) (\(expected))")
        }
    }

    /// Option keys are matched lower-cased; messages show them as documented.
    static func display(_ key: String) -> String {
        key == "sourcekind" ? "sourceKind" : key
    }

    func option(_ key: String) -> String? { options[key] }

    func integer(_ key: String, default value: Int, range: ClosedRange<Int>) throws(TextCommandError) -> Int {
        guard let text = options[key] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("\(key) must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    /// FIND's, SEARCH's and EXPORT's filters, as typed: `film=`, `theme=`, `source=` (a source
    /// kind), `subject=`.
    func filters() throws(TextCommandError) -> RecordFilter {
        // `film=` (nothing after it) is a slip, not a filter matching the empty title.
        for key in ["film", "theme", "source", "subject"] where options[key]?.isEmpty == true {
            throw .badRequest("\(key) must not be empty")
        }
        var filter = RecordFilter(film: options["film"], theme: options["theme"], subject: options["subject"])
        if let source = options["source"] {
            guard let kind = SourceKind(name: source) else {
                throw .badRequest("source must be one of director, cast, critic, article, audience (not \(echo(source)))")
            }
            filter.sourceKind = kind
        }
        return filter
    }

    func version() throws(TextCommandError) -> UInt64? {
        guard let text = options["ifversion"] else { return nil }
        guard let version = UInt64(text) else { throw .badRequest("ifversion must be a non-negative integer (0 = must not exist yet)") }
        return version
    }

    func recordContent() throws(TextCommandError) -> RecordContent {
        func required(_ key: String, _ name: String? = nil) throws(TextCommandError) -> String {
            guard let value = options[key] else { throw .badRequest("missing field '\(name ?? key)' (PUT needs film, year, director, subject, reading, source, sourceKind)") }
            return value
        }
        // Checked in the documented field order, so the first missing field is the one named.
        let film = try required("film")
        let yearText = try required("year")
        let director = try required("director")
        let subject = try required("subject")
        let reading = try required("reading")
        let source = try required("source")
        let kindText = try required("sourcekind", "sourceKind")
        guard let year = Int(yearText) else { throw .badRequest("year must be an integer, not \(echo(yearText))") }
        guard let kind = SourceKind(name: kindText) else {
            throw .badRequest("sourceKind must be one of director, cast, critic, article, audience (not \(echo(kindText)))")
        }
        let themes = (options["themes"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return RecordContent(film: film, year: year, director: director, subject: subject, reading: reading,
                             source: source, sourceKind: kind, themes: themes)
    }
}

extension TextCommand {
    /// Turns one line from the socket (LF already removed) into text: drops a trailing CR
    /// (telnet and Windows send CRLF) and refuses bytes that are not UTF-8.
    public static func decodeLine(_ line: ByteBuffer) throws(TextCommandError) -> String {
        var line = line
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        guard let text = try? line.getUTF8ValidatedString(at: line.readerIndex, length: line.readableBytes) else {
            throw .badRequest("line is not valid UTF-8")
        }
        return text
    }

    /// `decodeLine` then `parse`, as the gateway reads each line: nil for a blank line, which
    /// gets no answer.
    public static func parse(line: ByteBuffer) throws(TextCommandError) -> TextCommand? {
        try parse(decodeLine(line))
    }
}

extension LineToken {
    /// The word roughly as typed, for messages (`film=x` typed as a command).
    fileprivate var text: String { key.map { "\($0)=\(value)" } ?? value }
}
