import EpilogueShared
import Foundation

/// The dataset that ships inside the store (Resources/dataset.json): readings of the endings of
/// *La La Land* and *A Real Pain*, written from the articles under shared/seeds. Loaded into an
/// empty data directory so a new user has something real to query.
public enum BundledDataset {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var content: RecordContent
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
        let records = try JSONDecoder().decode([RecordJSON].self, from: data)
        var seen = Set<String>()
        return try records.map { record in
            let content = record.content
            do throws(RecordValidationError) {
                try RecordValidator.validate(id: record.id)
                try RecordValidator.validate(content)
            } catch {
                throw LoadError.invalid(id: record.id, error)
            }
            guard seen.insert(record.id).inserted else { throw LoadError.duplicate(id: record.id) }
            return Entry(id: record.id, content: content)
        }
    }
}
