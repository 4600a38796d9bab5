import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

@Suite struct PutParsingTests {
    private static let complete = ["film=F", "year=2016", "director=D", "subject=S", "reading=R", "source=s", "sourceKind=critic"]

    private func put(without field: String? = nil, replacing: (String, String)? = nil, adding extra: [String] = []) -> String {
        var parts = Self.complete.filter { field == nil || !$0.hasPrefix(field! + "=") }
        if let (key, value) = replacing { parts = parts.map { $0.hasPrefix(key + "=") ? "\(key)=\(value)" : $0 } }
        return (["PUT", "demo/1"] + parts + extra).joined(separator: " ")
    }

    @Test func buildsRecordContentWithThemesSplitOnCommas() throws {
        let command = try parse(put(adding: [#"themes="grief,,love , what-if""#]))
        guard case .put(let id, let content, let ifVersion)? = command else {
            Issue.record("not a PUT: \(String(describing: command))")
            return
        }
        #expect(id == "demo/1")
        #expect(ifVersion == nil)
        #expect(content == RecordContent(film: "F", year: 2016, director: "D", subject: "S", reading: "R",
                                         source: "s", sourceKind: .critic, themes: ["grief", "love", "what-if"]))
    }

    @Test(arguments: ["film", "year", "director", "subject", "reading", "source", "sourceKind"])
    func missingFieldIsNamed(field: String) throws {
        let message = try #require(refusal(put(without: field))?.message)
        #expect(message.hasPrefix("missing field '\(field)'"))
    }

    @Test func firstMissingFieldInDocumentedOrderIsNamed() {
        #expect(refusal("PUT x film=F")?.message.hasPrefix("missing field 'year'") == true)
        #expect(refusal("PUT x sourceKind=fan")?.message.hasPrefix("missing field 'film'") == true)
    }

    @Test func unknownFieldIsNamed() throws {
        let error = try #require(refusal(put(adding: ["colour=red"])))
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("unknown option 'colour' for PUT"))
    }

    @Test(arguments: ["2016.5", "twenty", "\"\""])
    func yearThatIsNotAnIntegerIsNamed(year: String) throws {
        let error = try #require(refusal(put(replacing: ("year", year))))
        #expect(error.code == .badRequest)
        #expect(error.message.hasPrefix("year must be an integer"))
    }

    @Test func invalidSourceKindIsNamed() throws {
        let error = try #require(refusal(put(replacing: ("sourceKind", "fan"))))
        #expect(error == TextCommandError(code: .badRequest, message: "sourceKind must be one of director, cast, critic, article, audience (not 'fan')"))
    }

    @Test func missingIDIsABadRequest() {
        #expect(refusal("PUT film=F")?.message.hasPrefix("PUT needs id") == true)
    }
}
