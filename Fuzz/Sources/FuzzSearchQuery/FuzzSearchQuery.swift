import EpilogueStorage
import FuzzDriver

/// Arbitrary bytes as a SEARCH query: the parser must answer a query or an error whose position
/// lies in the text (or just after it).
@main
enum FuzzSearchQuery {
    static func main() {
        runLibFuzzer { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            do throws(SearchQuerySyntaxError) {
                _ = try SearchQuery(parsing: text)
            } catch {
                precondition((1...(text.count + 1)).contains(error.position), "position \(error.position) outside '\(text)': \(error)")
            }
        }
    }
}
