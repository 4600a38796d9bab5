/// A parsed SEARCH text: the subset of SQLite FTS5's query syntax documented in PROTOCOL.md.
///
///     query    := or
///     or       := and ("OR" and)*
///     and      := not (["AND"] not)*            -- words side by side must all occur
///     not      := primary ("NOT" primary)*      -- binds tightest, as in FTS5
///     primary  := "(" or ")" | column ":" (phrase | "(" or ")") | phrase
///     phrase   := bareword ["*"] | '"' text '"' ["*"]
///
/// Columns are film, subject, reading and source. Operators are upper-case (`or` is a word). A
/// bareword is split into words by the tokenizer, each of which must occur (`one-woman` is `one
/// woman`, as before the query language existed); a quoted text is one phrase (`""` inside is a
/// quote). `word:` where `word` is not a column is just punctuation. Parsing does no I/O.
public struct SearchQuery: Equatable, Sendable {
    public static let columns = ["film", "subject", "reading", "source"]

    /// Consecutive words that must occur in this order in one column; the last may be a prefix.
    public struct Phrase: Hashable, Sendable {
        public var terms: [String]
        public var prefix: Bool = false
        /// Index into `columns`, or nil for any column.
        public var column: Int? = nil

        /// A single whole word in any column: what the posting lists answer directly.
        var isPlainTerm: Bool { terms.count == 1 && !prefix && column == nil }
    }

    public indirect enum Node: Equatable, Sendable {
        case phrase(Phrase)
        case and([Node])
        case or([Node])
        /// Matches of the first that are not matches of the second.
        case not(Node, Node)
    }

    /// Nil when the text has no words at all (it then matches nothing, which is not an error).
    public var root: Node?

    /// Every phrase in the order written, repeats included (FTS5's bm25 sums over them).
    public var phrases: [Phrase] {
        var out: [Phrase] = []
        func walk(_ node: Node) {
            switch node {
            case .phrase(let p): out.append(p)
            case .and(let nodes), .or(let nodes): nodes.forEach(walk)
            case .not(let a, let b): walk(a); walk(b)
            }
        }
        if let root { walk(root) }
        return out
    }

    /// The words of a query that is only words, all required (the common case, served by the
    /// posting-list intersection); nil for anything else.
    var plainTerms: [String]? {
        guard let root else { return nil }
        switch root {
        case .phrase(let p): return p.isPlainTerm ? p.terms : nil
        case .and(let nodes):
            var terms: [String] = []
            for node in nodes {
                guard case .phrase(let p) = node, p.isPlainTerm else { return nil }
                terms += p.terms
            }
            return terms
        default: return nil
        }
    }

    public init(root: Node?) { self.root = root }

    /// The query with whole words replaced (`fuzzy`: unknown words by their suggestions).
    func replacing(_ corrections: [String: String]) -> SearchQuery {
        func walk(_ node: Node) -> Node {
            switch node {
            case .phrase(var p):
                if !p.prefix { p.terms = p.terms.map { corrections[$0] ?? $0 } }
                return .phrase(p)
            case .and(let nodes): return .and(nodes.map(walk))
            case .or(let nodes): return .or(nodes.map(walk))
            case .not(let a, let b): return .not(walk(a), walk(b))
            }
        }
        return SearchQuery(root: root.map(walk))
    }

    public init(parsing text: String) throws(SearchQuerySyntaxError) {
        var parser = SearchQueryParser(tokens: try SearchQueryLexer.tokens(text), end: text.count + 1)
        root = try parser.parseQuery()
    }
}

/// A malformed query: what is wrong and where (1-based character position in the query text).
public struct SearchQuerySyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var position: Int
    public var description: String { "\(message) at \(position)" }
}

struct SearchQueryLexer {
    enum Kind: Equatable {
        case open, close, or, and, not
        case column(Int)
        /// A bareword or quoted text, not yet split into terms.
        case text(String, quoted: Bool, prefix: Bool)
    }

    struct Token: Equatable {
        var kind: Kind
        var position: Int
    }

    static func tokens(_ text: String) throws(SearchQuerySyntaxError) -> [Token] {
        let chars = Array(text)
        var out: [Token] = []
        var i = 0
        func starAfter() -> Bool {
            if i < chars.count, chars[i] == "*" { i += 1; return true }
            return false
        }
        while i < chars.count {
            let c = chars[i]
            let position = i + 1
            if c.isWhitespace { i += 1; continue }
            switch c {
            case "(": out.append(Token(kind: .open, position: position)); i += 1
            case ")": out.append(Token(kind: .close, position: position)); i += 1
            case "*": throw SearchQuerySyntaxError(message: "'*' must follow a word", position: position)
            case "\"":
                var content = ""
                i += 1
                var closed = false
                while i < chars.count {
                    if chars[i] == "\"" {
                        if i + 1 < chars.count, chars[i + 1] == "\"" { content.append("\""); i += 2; continue }
                        i += 1
                        closed = true
                        break
                    }
                    content.append(chars[i])
                    i += 1
                }
                guard closed else { throw SearchQuerySyntaxError(message: "unterminated quote", position: position) }
                out.append(Token(kind: .text(content, quoted: true, prefix: starAfter()), position: position))
            default:
                var word = ""
                while i < chars.count, !chars[i].isWhitespace, !"()\"*".contains(chars[i]) {
                    if chars[i] == ":", SearchQuery.columns.contains(word.lowercased()) { break }
                    word.append(chars[i])
                    i += 1
                }
                if i < chars.count, chars[i] == ":", let column = SearchQuery.columns.firstIndex(of: word.lowercased()) {
                    i += 1
                    out.append(Token(kind: .column(column), position: position))
                    continue
                }
                switch word {
                case "OR": out.append(Token(kind: .or, position: position))
                case "AND": out.append(Token(kind: .and, position: position))
                case "NOT": out.append(Token(kind: .not, position: position))
                default: out.append(Token(kind: .text(word, quoted: false, prefix: starAfter()), position: position))
                }
            }
        }
        return out
    }
}

struct SearchQueryParser {
    typealias Node = SearchQuery.Node
    let tokens: [SearchQueryLexer.Token]
    /// Position reported for "expected a word" at the end of the text.
    let end: Int
    var next = 0

    init(tokens: [SearchQueryLexer.Token], end: Int) {
        self.tokens = tokens
        self.end = end
    }

    private var peek: SearchQueryLexer.Token? { next < tokens.count ? tokens[next] : nil }

    private func startsPrimary(_ token: SearchQueryLexer.Token?) -> Bool {
        switch token?.kind {
        case .open?, .column?, .text?: return true
        default: return false
        }
    }

    private func error(_ message: String, at token: SearchQueryLexer.Token?) -> SearchQuerySyntaxError {
        SearchQuerySyntaxError(message: message, position: token?.position ?? end)
    }

    private static func name(_ kind: SearchQueryLexer.Kind) -> String {
        switch kind {
        case .or: return "OR"
        case .and: return "AND"
        case .not: return "NOT"
        default: return ""
        }
    }

    mutating func parseQuery() throws(SearchQuerySyntaxError) -> Node? {
        guard peek != nil else { return nil }
        let root = try parseOr()
        if let extra = peek {
            if extra.kind == .close { throw error("unbalanced parenthesis", at: extra) }
            throw error("unexpected \(Self.name(extra.kind))", at: extra)
        }
        return root.map(Self.simplified)
    }

    /// Requires a word, phrase or group next (after an operator, or at the start).
    private func requirePrimary(after operatorToken: SearchQueryLexer.Token?) throws(SearchQuerySyntaxError) {
        guard startsPrimary(peek) else {
            if let operatorToken, case let name = Self.name(operatorToken.kind), !name.isEmpty {
                throw error("expected a word after \(name)", at: peek)
            }
            if let token = peek, token.kind == .close { throw error("unbalanced parenthesis", at: token) }
            if let token = peek, case let name = Self.name(token.kind), !name.isEmpty { throw error("expected a word before \(name)", at: token) }
            throw error("expected a word", at: peek)
        }
    }

    private mutating func parseOr() throws(SearchQuerySyntaxError) -> Node? {
        try requirePrimary(after: nil)
        var items = [try parseAnd()]
        while let token = peek, token.kind == .or {
            next += 1
            try requirePrimary(after: token)
            items.append(try parseAnd())
        }
        let kept = items.compactMap { $0 }
        // An alternative without words (`dream OR ,,,`) adds nothing.
        return kept.isEmpty ? nil : kept.count == 1 ? kept[0] : .or(kept)
    }

    private mutating func parseAnd() throws(SearchQuerySyntaxError) -> Node? {
        var items = [try parseNot()]
        while let token = peek {
            if token.kind == .and {
                next += 1
                try requirePrimary(after: token)
            } else if !startsPrimary(token) {
                break
            }
            items.append(try parseNot())
        }
        let kept = items.compactMap { $0 }
        return kept.isEmpty ? nil : kept.count == 1 ? kept[0] : .and(kept)
    }

    private mutating func parseNot() throws(SearchQuerySyntaxError) -> Node? {
        var left = try parsePrimary(column: nil)
        while let token = peek, token.kind == .not {
            next += 1
            try requirePrimary(after: token)
            let right = try parsePrimary(column: nil)
            if let l = left, let r = right { left = .not(l, r) }
        }
        return left
    }

    private mutating func parsePrimary(column: Int?) throws(SearchQuerySyntaxError) -> Node? {
        guard let token = peek else { throw error("expected a word", at: nil) }
        next += 1
        switch token.kind {
        case .open:
            guard peek?.kind != .close else { throw error("empty parentheses", at: token) }
            guard peek != nil else { throw error("unbalanced parenthesis", at: token) }
            let inner = try parseOr()
            guard let close = peek, close.kind == .close else { throw error("unbalanced parenthesis", at: token) }
            _ = close
            next += 1
            return inner.map { Self.restricted($0, to: column) }
        case .column(let index):
            guard let after = peek, after.kind == .open || { if case .text = after.kind { return true } else { return false } }() else {
                throw error("expected a word or group after '\(SearchQuery.columns[index]):'", at: peek ?? token)
            }
            return try parsePrimary(column: column ?? index).map { Self.restricted($0, to: index) }
        case .text(let text, let quoted, let prefix):
            let terms = SearchIndex.terms(text)
            guard !terms.isEmpty else { return nil }
            if quoted { return .phrase(SearchQuery.Phrase(terms: terms, prefix: prefix, column: column)) }
            // A bareword's words are required one by one; `*` belongs to the last.
            let nodes = terms.enumerated().map { i, term in
                Node.phrase(SearchQuery.Phrase(terms: [term], prefix: prefix && i == terms.count - 1, column: column))
            }
            return nodes.count == 1 ? nodes[0] : .and(nodes)
        case .close:
            throw error("unbalanced parenthesis", at: token)
        case .or, .and, .not:
            throw error("expected a word before \(Self.name(token.kind))", at: token)
        }
    }

    /// Applies a column filter to the phrases that have none (an inner filter wins).
    private static func restricted(_ node: Node, to column: Int?) -> Node {
        guard let column else { return node }
        switch node {
        case .phrase(var p):
            if p.column == nil { p.column = column }
            return .phrase(p)
        case .and(let nodes): return .and(nodes.map { restricted($0, to: column) })
        case .or(let nodes): return .or(nodes.map { restricted($0, to: column) })
        case .not(let a, let b): return .not(restricted(a, to: column), restricted(b, to: column))
        }
    }

    /// Flattens nested ANDs and ORs (`a (b c)` is `a b c`), which keeps the plain-words fast path.
    static func simplified(_ node: Node) -> Node {
        switch node {
        case .phrase: return node
        case .and(let nodes):
            return .and(nodes.map(simplified).flatMap { if case .and(let inner) = $0 { return inner } else { return [$0] } })
        case .or(let nodes):
            return .or(nodes.map(simplified).flatMap { if case .or(let inner) = $0 { return inner } else { return [$0] } })
        case .not(let a, let b): return .not(simplified(a), simplified(b))
        }
    }
}
