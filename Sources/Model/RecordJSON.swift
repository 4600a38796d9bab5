/// A record as one JSON object — the bundled dataset's format and the benchmark corpus's lines:
/// `{"id", "film", "year", "director", "subject", "reading", "source", "sourceKind", "themes"}`.
public struct RecordJSON: Decodable, Sendable {
    public var id: String
    public var film: String
    public var year: Int
    public var director: String
    public var subject: String
    public var reading: String
    public var source: String
    public var sourceKind: SourceKind
    public var themes: [String]

    public var content: RecordContent {
        RecordContent(film: film, year: year, director: director, subject: subject, reading: reading,
                      source: source, sourceKind: sourceKind, themes: themes)
    }
}
