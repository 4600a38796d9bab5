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

    /// A record of the dataset file: a `RecordJSON` plus `sourceRef`, in the same object.
    struct FileRecord: Decodable {
        var record: RecordJSON
        var sourceRef: String

        private enum CodingKeys: String, CodingKey { case sourceRef }

        init(from decoder: any Decoder) throws {
            record = try RecordJSON(from: decoder)
            sourceRef = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .sourceRef)
        }
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
        return try records.map { file in
            let (id, written, sourceRef) = (file.record.id, file.record.content, file.sourceRef)
            var content = written
            content.source = storedSource(written.source, sourceRef: sourceRef)
            do throws(RecordValidationError) {
                try RecordValidator.validate(id: id)
                try RecordValidator.validate(content)
                if let broken = DatasetVocabulary.violation(id: id, film: written.film, subject: written.subject,
                                                            themes: written.themes, sourceKind: written.sourceKind.name,
                                                            sourceRef: sourceRef) {
                    throw RecordValidationError(field: broken.field, reason: broken.reason)
                }
            } catch {
                throw LoadError.invalid(id: id, error)
            }
            guard seen.insert(id).inserted else { throw LoadError.duplicate(id: id) }
            return Entry(id: id, content: content, sourceRef: sourceRef)
        }
    }
}
