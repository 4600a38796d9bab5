/// Which records a FIND/QUERY, SEARCH or EXPORT covers: absent means "any"; present filters all
/// must match. `sourceKind` is typed as `source=` on the text protocol.
public struct RecordFilter: Sendable, Equatable {
    public var film: String?
    public var theme: String?
    public var sourceKind: SourceKind?
    public var subject: String?

    public init(film: String? = nil, theme: String? = nil, sourceKind: SourceKind? = nil, subject: String? = nil) {
        self.film = film
        self.theme = theme
        self.sourceKind = sourceKind
        self.subject = subject
    }

    public var isEmpty: Bool { film == nil && theme == nil && sourceKind == nil && subject == nil }
}
