/// A film with the number of records about it (FILMS).
public struct FilmSummary: Sendable, Equatable {
    public var film: String
    public var year: UInt16
    public var director: String
    public var records: UInt32

    public init(film: String, year: UInt16, director: String, records: UInt32) {
        self.film = film
        self.year = year
        self.director = director
        self.records = records
    }
}

/// A theme with the number of records that carry it (THEMES).
public struct ThemeCount: Sendable, Equatable {
    public var theme: String
    public var records: UInt32

    public init(theme: String, records: UInt32) {
        self.theme = theme
        self.records = records
    }
}
