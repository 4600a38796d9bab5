import EpilogueModel
import EpilogueTestSupport
import Foundation
import Testing

/// `RecordJSON`: the id next to `RecordContent`'s own fields in one JSON object.
@Suite struct RecordJSONTests {
    private let line = #"""
        {"id":"la-la-land/x","film":"La La Land","year":2016,"director":"Damien Chazelle","subject":"ending",
         "reading":"It ends apart.","source":"an interview","sourceKind":"director","themes":["love","ambition"]}
        """#

    @Test func decodesTheIDAndTheContentFromOneObject() throws {
        let record = try JSONDecoder().decode(RecordJSON.self, from: Data(line.utf8))
        #expect(record.id == "la-la-land/x")
        #expect(record.content == RecordContent(film: "La La Land", year: 2016, director: "Damien Chazelle", subject: "ending",
                                                reading: "It ends apart.", source: "an interview", sourceKind: .director,
                                                themes: ["love", "ambition"]))
    }

    @Test func anObjectWithoutAnIDIsRefused() {
        let noID = line.replacingOccurrences(of: #""id":"la-la-land/x","#, with: "")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RecordJSON.self, from: Data(noID.utf8)) }
    }

    @Test func anUnknownSourceKindIsRefused() {
        let oracle = line.replacingOccurrences(of: #""sourceKind":"director""#, with: #""sourceKind":"oracle""#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RecordJSON.self, from: Data(oracle.utf8)) }
    }
}
