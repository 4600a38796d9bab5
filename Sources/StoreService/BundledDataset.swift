import EpilogueModel
import Foundation

/// The dataset that ships inside the store (Resources/dataset.json): readings of the endings of
/// *La La Land* and *A Real Pain*, written from the articles under shared/seeds. Loaded into an
/// empty data directory so a new user has something real to query. docs/DATASET.md maps the
/// articles onto the records.
///
/// Each record in the file carries a `sourceRef` ("<seed article file>#<section slug>") next to
/// the free-text `source`. Records have no field of that name on the wire or on disk, so the store
/// keeps it at the end of `source`, in brackets: `<source> [<sourceRef>]`, where SEARCH finds it.
/// Unlike records users write, bundled records must keep to `DatasetVocabulary`.
public enum BundledDataset {
    public struct Entry: Sendable, Equatable {
        public var id: String
        /// As stored: `content.source` ends with ` [<sourceRef>]`.
        public var content: RecordContent
        public var sourceRef: String
    }

    /// A record of the dataset file: `RecordJSON`'s fields plus `sourceRef`.
    struct FileRecord: Decodable {
        var id: String
        var film: String
        var year: Int
        var director: String
        var subject: String
        var reading: String
        var source: String
        var sourceKind: SourceKind
        var sourceRef: String
        var themes: [String]
    }

    /// The stored `source`: the free text, then the reference in brackets.
    public static func storedSource(_ source: String, sourceRef: String) -> String {
        "\(source) [\(sourceRef)]"
    }

    public enum LoadError: Error, CustomStringConvertible {
        case missing
        case invalid(id: String, RecordValidationError)
        case duplicate(id: String)

        public var description: String {
            switch self {
            case .missing: return "the bundled dataset resource is missing"
            case .invalid(let id, let error): return "bundled record '\(id)' is invalid: \(error)"
            case .duplicate(let id): return "bundled record id '\(id)' appears twice"
            }
        }
    }

    public static func load() throws -> [Entry] {
        guard let url = Bundle.module.url(forResource: "dataset", withExtension: "json") else { throw LoadError.missing }
        return try parse(Data(contentsOf: url))
    }

    /// Decodes and validates every record; any invalid or repeated record fails the whole load.
    public static func parse(_ data: Data) throws -> [Entry] {
        let records = try JSONDecoder().decode([FileRecord].self, from: data)
        var seen = Set<String>()
        return try records.map { record in
            let content = RecordContent(film: record.film, year: record.year, director: record.director,
                                        subject: record.subject, reading: record.reading,
                                        source: storedSource(record.source, sourceRef: record.sourceRef),
                                        sourceKind: record.sourceKind, themes: record.themes)
            do throws(RecordValidationError) {
                try RecordValidator.validate(id: record.id)
                try RecordValidator.validate(content)
                if let broken = DatasetVocabulary.violation(id: record.id, film: record.film, subject: record.subject,
                                                            themes: record.themes, sourceKind: record.sourceKind.name,
                                                            sourceRef: record.sourceRef) {
                    throw RecordValidationError(field: broken.field, reason: broken.reason)
                }
            } catch {
                throw LoadError.invalid(id: record.id, error)
            }
            guard seen.insert(record.id).inserted else { throw LoadError.duplicate(id: record.id) }
            return Entry(id: record.id, content: content, sourceRef: record.sourceRef)
        }
    }
}
