/// Who a reading comes from. Raw values are stable: they travel on the wire and sit on disk.
public enum SourceKind: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case director = 1
    case cast = 2
    case critic = 3
    case article = 4
    case audience = 5

    public var name: String {
        switch self {
        case .director: return "director"
        case .cast: return "cast"
        case .critic: return "critic"
        case .article: return "article"
        case .audience: return "audience"
        }
    }

    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = kind
    }

    public var description: String { name }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let kind = SourceKind(name: name) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "sourceKind must be one of director, cast, critic, article, audience")
        }
        self = kind
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// The content of an interpretation record: what a client writes. Identity and bookkeeping
/// (`version`, `updatedAt`) are added by the store; see `StoredRecord`.
public struct RecordContent: Sendable, Equatable, Codable {
    public var film: String
    public var year: Int
    public var director: String
    public var subject: String
    public var reading: String
    public var source: String
    public var sourceKind: SourceKind
    public var themes: [String]

    public init(film: String, year: Int, director: String, subject: String, reading: String,
                source: String, sourceKind: SourceKind, themes: [String]) {
        self.film = film
        self.year = year
        self.director = director
        self.subject = subject
        self.reading = reading
        self.source = source
        self.sourceKind = sourceKind
        self.themes = themes
    }
}

/// A record as the store holds it.
public struct Record: Sendable, Equatable {
    public var id: String
    public var content: RecordContent
    /// Starts at 1 and increments on every write of this id.
    public var version: UInt64
    /// Milliseconds since the Unix epoch of the last write.
    public var updatedAt: Int64

    public init(id: String, content: RecordContent, version: UInt64, updatedAt: Int64) {
        self.id = id
        self.content = content
        self.version = version
        self.updatedAt = updatedAt
    }
}

/// A rule a record broke, naming the field so a user knows what to fix.
public struct RecordValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { "\(field): \(reason)" }
}

public enum RecordLimits {
    public static let maxIDBytes = 128
    public static let maxReadingBytes = 64 * 1024
    public static let maxShortFieldBytes = 1024
    public static let maxThemes = 32
    public static let maxThemeBytes = 48
    public static let yearRange = 1870...2200
}

public enum RecordValidator {
    /// An id is 1…128 bytes of printable ASCII without spaces (0x21…0x7E).
    public static func validate(id: String) throws(RecordValidationError) {
        let bytes = id.utf8
        guard !bytes.isEmpty else { throw RecordValidationError(field: "id", reason: "must not be empty") }
        guard bytes.count <= RecordLimits.maxIDBytes else {
            throw RecordValidationError(field: "id", reason: "must be at most \(RecordLimits.maxIDBytes) bytes")
        }
        guard bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw RecordValidationError(field: "id", reason: "must be printable ASCII without spaces")
        }
    }

    public static func validate(_ content: RecordContent) throws(RecordValidationError) {
        try requireText(content.film, field: "film", max: RecordLimits.maxShortFieldBytes)
        try requireText(content.director, field: "director", max: RecordLimits.maxShortFieldBytes)
        try requireText(content.subject, field: "subject", max: RecordLimits.maxShortFieldBytes)
        try requireText(content.source, field: "source", max: RecordLimits.maxShortFieldBytes)
        try requireText(content.reading, field: "reading", max: RecordLimits.maxReadingBytes)
        guard RecordLimits.yearRange.contains(content.year) else {
            throw RecordValidationError(field: "year", reason: "must be between \(RecordLimits.yearRange.lowerBound) and \(RecordLimits.yearRange.upperBound)")
        }
        guard content.themes.count <= RecordLimits.maxThemes else {
            throw RecordValidationError(field: "themes", reason: "at most \(RecordLimits.maxThemes) themes")
        }
        var seen = Set<String>()
        for theme in content.themes {
            guard !theme.isEmpty, theme.utf8.count <= RecordLimits.maxThemeBytes,
                  theme.utf8.allSatisfy({ isThemeByte($0) }) else {
                throw RecordValidationError(field: "themes", reason: "'\(theme)' must be 1…\(RecordLimits.maxThemeBytes) of a-z, 0-9, '-'")
            }
            guard seen.insert(theme).inserted else {
                throw RecordValidationError(field: "themes", reason: "'\(theme)' is repeated")
            }
        }
    }

    public static func validate(_ record: Record) throws(RecordValidationError) {
        try validate(id: record.id)
        try validate(record.content)
    }

    private static func isThemeByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
    }

    private static func requireText(_ value: String, field: String, max: Int) throws(RecordValidationError) {
        guard !value.allSatisfy(\.isWhitespace) else {
            throw RecordValidationError(field: field, reason: "must not be empty")
        }
        guard value.utf8.count <= max else {
            throw RecordValidationError(field: field, reason: "must be at most \(max) bytes")
        }
        // Control characters would break line-oriented clients; newlines are allowed in prose only.
        let allowsNewlines = field == "reading"
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 && !(allowsNewlines && ($0 == "\n")) || $0.value == 0x7F }) else {
            throw RecordValidationError(field: field, reason: "must not contain control characters")
        }
    }
}
