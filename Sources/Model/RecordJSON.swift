/// A record as one JSON object — the bundled dataset's format and the benchmark corpus's lines:
/// `{"id", "film", "year", "director", "subject", "reading", "source", "sourceKind", "themes"}`.
/// The id sits next to the content's fields, so the content decodes from the same object.
public struct RecordJSON: Decodable, Sendable {
    public var id: String
    public var content: RecordContent

    private enum CodingKeys: String, CodingKey { case id }

    public init(from decoder: any Decoder) throws {
        id = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .id)
        content = try RecordContent(from: decoder)
    }
}
