import EpilogueModel
import Foundation

/// A benchmark corpus: JSON lines as written by bench/make-corpus.py.
struct Corpus {
    var records: [(id: String, content: RecordContent)]

    static func load(_ path: String, limit: Int = .max) throws -> Corpus {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var records: [(String, RecordContent)] = []
        let decoder = JSONDecoder()
        for line in text.split(separator: "\n") where records.count < limit {
            let record = try decoder.decode(RecordJSON.self, from: Data(line.utf8))
            records.append((record.id, record.content))
        }
        return Corpus(records: records)
    }
}
