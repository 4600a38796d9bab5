import EpilogueShared
import Foundation

/// A benchmark corpus: JSON lines as written by bench/make-corpus.py.
struct Corpus {
    struct Line: Decodable {
        var id: String
        var film: String
        var year: Int
        var director: String
        var subject: String
        var reading: String
        var source: String
        var sourceKind: SourceKind
        var themes: [String]
    }

    var records: [(id: String, content: RecordContent)]

    static func load(_ path: String, limit: Int = .max) throws -> Corpus {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var records: [(String, RecordContent)] = []
        let decoder = JSONDecoder()
        for line in text.split(separator: "\n") where records.count < limit {
            let r = try decoder.decode(Line.self, from: Data(line.utf8))
            records.append((r.id, RecordContent(film: r.film, year: r.year, director: r.director, subject: r.subject,
                                                reading: r.reading, source: r.source, sourceKind: r.sourceKind, themes: r.themes)))
        }
        return Corpus(records: records)
    }
}
