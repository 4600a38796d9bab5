/// One SEARCH result: the record it found, its score (FTS5's `bm25()`: negative, lower is
/// better) and a snippet of the reading with the matched words in brackets. The same value is the
/// store's answer, the HIT frame's payload and the gateway's row: nothing in it is wire-only.
public struct SearchHit: Sendable, Equatable {
    public var id: String
    public var score: Double
    public var film: String
    public var subject: String
    public var snippet: String

    public init(id: String, score: Double, film: String, subject: String, snippet: String) {
        self.id = id
        self.score = score
        self.film = film
        self.subject = subject
        self.snippet = snippet
    }
}
