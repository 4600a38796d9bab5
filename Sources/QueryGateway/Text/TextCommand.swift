import Foundation
import EpilogueShared

/// A refused command line: the stable CODE and a message for `ERR <CODE> <message>`.
public struct TextCommandError: Error, Equatable {
    public var code: String
    public var message: String

    static func badRequest(_ message: String) -> TextCommandError { TextCommandError(code: "BAD_REQUEST", message: message) }
}

public enum OutputFormat: String, Sendable, Equatable {
    case text
    case json
}

/// Filters of FIND and SEARCH, as typed: `film=`, `theme=`, `source=` (a source kind), `subject=`.
public struct FilterOptions: Equatable, Sendable {
    public var film: String?
    public var theme: String?
    public var sourceKind: SourceKind?
    public var subject: String?
}

/// A parsed text-protocol command. Parsing is pure; `GatewaySession` executes them.
public enum TextCommand: Equatable, Sendable {
    case help(topic: String?)
    case ping
    case films
    case themes(film: String?)
    case get(id: String)
    case find(FilterOptions, limit: Int, offset: Int)
    case search(text: String, FilterOptions, limit: Int)
    case put(id: String, content: RecordContent, ifVersion: UInt64?)
    case delete(id: String, ifVersion: UInt64?)
    case stats
    case format(OutputFormat)
    case auth(token: String)
    case quit

    public static let findDefaultLimit = 20
    public static let findMaximumLimit = 1_000
    public static let searchDefaultLimit = 10
    public static let searchMaximumLimit = 100

    /// The command names, as HELP lists them.
    public static let names = ["HELP", "PING", "FILMS", "THEMES", "GET", "FIND", "SEARCH", "PUT", "DEL", "STATS", "FORMAT", "AUTH", "QUIT"]

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
        guard first.key == nil, !first.quoted else { throw TextCommandError(code: "UNKNOWN_COMMAND", message: "'\(first.value)' is not a command (try HELP)") }
        let name = first.value.uppercased()
        var args = Arguments(command: name, tokens: Array(tokens))
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
            return .themes(film: args.options["film"])
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
            let words = args.remainingWords()
            try args.finish(options: ["film", "theme", "source", "limit"])
            guard !words.isEmpty else { throw .badRequest("SEARCH needs at least one word, e.g. SEARCH dream") }
            return .search(text: words.joined(separator: " "), try args.filters(),
                           limit: try args.integer("limit", default: searchDefaultLimit, range: 1...searchMaximumLimit))
        case "PUT":
            let id = try args.word("id")
            try args.finish(options: ["film", "year", "director", "subject", "reading", "source", "sourcekind", "themes", "ifversion"])
            return .put(id: id, content: try args.recordContent(), ifVersion: try args.version())
        case "DEL", "DELETE":
            let id = try args.word("id")
            try args.finish(options: ["ifversion"])
            return .delete(id: id, ifVersion: try args.version())
        case "STATS":
            try args.finish(options: [])
            return .stats
        case "FORMAT":
            let word = try args.word("format (text or json)")
            try args.finish(options: [])
            guard let format = OutputFormat(rawValue: word.lowercased()) else { throw .badRequest("FORMAT takes text or json, not '\(word)'") }
            return .format(format)
        case "AUTH":
            let token = try args.word("token")
            try args.finish(options: [])
            return .auth(token: token)
        case "QUIT", "EXIT":
            try args.finish(options: [])
            return .quit
        default:
            throw TextCommandError(code: "UNKNOWN_COMMAND", message: "'\(first.value)' is not a command (try HELP)")
        }
    }
}

/// The arguments after a command name, consumed as the command expects them.
private struct Arguments {
    let command: String
    var words: [String] = []
    var options: [String: String] = [:]
    private var order: [String] = []

    init(command: String, tokens: [LineToken]) {
        self.command = command
        for token in tokens {
            if let key = token.key {
                options[key] = token.value
                order.append(key)
            } else {
                words.append(token.value)
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
        if let extra = words.first { throw .badRequest("unexpected argument '\(extra)' for \(command)") }
        for key in order where !allowed.contains(key) {
            let expected = allowed.isEmpty ? "it takes none" : "expected " + allowed.sorted().joined(separator: ", ")
            throw .badRequest("unknown option '\(key)' for \(command) (\(expected))")
        }
    }

    func integer(_ key: String, default value: Int, range: ClosedRange<Int>) throws(TextCommandError) -> Int {
        guard let text = options[key] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw .badRequest("\(key) must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    func filters() throws(TextCommandError) -> FilterOptions {
        var filter = FilterOptions(film: options["film"], theme: options["theme"], sourceKind: nil, subject: options["subject"])
        if let source = options["source"] {
            guard let kind = SourceKind(name: source) else {
                throw .badRequest("source must be one of director, cast, critic, article, audience (not '\(source)')")
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
        let yearText = try required("year")
        guard let year = Int(yearText) else { throw .badRequest("year must be an integer, not '\(yearText)'") }
        let kindText = try required("sourcekind", "sourceKind")
        guard let kind = SourceKind(name: kindText) else {
            throw .badRequest("sourceKind must be one of director, cast, critic, article, audience (not '\(kindText)')")
        }
        let themes = (options["themes"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return RecordContent(film: try required("film"), year: year, director: try required("director"),
                             subject: try required("subject"), reading: try required("reading"), source: try required("source"),
                             sourceKind: kind, themes: themes)
    }
}
