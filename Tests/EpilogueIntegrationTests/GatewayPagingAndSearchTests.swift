import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

@Suite(.timeLimit(.minutes(1))) struct GatewayPagingAndSearchTests {
    @Test func searchTakesTheQueryLanguageAndSaysWhereAQueryIsMalformed() async throws {
        try await withStack { port, store in
            _ = try await store.put(id: "q/1", content: TestSupport.content(subject: "airport", reading: "A one-woman show about a dream"), expectedVersion: nil)
            _ = try await store.put(id: "q/2", content: TestSupport.content(subject: "final look", reading: "The woman in the show has one dream"), expectedVersion: nil)
            _ = try await store.put(id: "q/3", content: TestSupport.content(subject: "quokka", reading: "Nothing about it"), expectedVersion: nil)
            try await withTextClient(port: port) { c in
                for (query, ids) in [
                    (#""one-woman show""#, ["q/1"]), ("one woman show", ["q/1", "q/2"]), ("dream OR quokka", ["q/1", "q/2", "q/3"]),
                    ("dream NOT airport", ["q/2"]), ("subject:airport", ["q/1"]), (#"subject:"final look""#, ["q/2"]),
                    ("dre*", ["q/1", "q/2"]), ("(dream OR quokka) NOT reading:woman", ["q/3"]),
                ] {
                    let reply = try await c.command("SEARCH \(query) film=\"la la land\"")
                    #expect(reply.isOK, "\(query): \(reply)")
                    #expect(Set(reply.body.compactMap { line in ids.first { line.contains($0) } }) == Set(ids), "\(query): \(reply)")
                    #expect(reply.status.hasPrefix("OK \(ids.count) of \(ids.count) hit"), "\(query): \(reply)")
                }
                let typo = try await c.command("SEARCH drem showw")
                #expect(typo.status == "OK 0 hits (did you mean: dream, show?)", "\(typo)")
                let fuzzy = try await c.command("SEARCH drem showw fuzzy=1")
                #expect(fuzzy.status == "OK 2 of 2 hits (1–2) (fuzzy: dream, show)", "\(fuzzy)")
                #expect(fuzzy.body.contains { $0.contains("[dream]") }, "\(fuzzy)")
                let bad = try await c.command("SEARCH dream (quokka")
                #expect(bad.status == "ERR BAD_REQUEST malformed query: unbalanced parenthesis at 7", "\(bad)")
            }
        }
    }

    @Test func searchSummaryCountsEveryMatchAndPagesLikeFind() async throws {
        try await withStack { port, store in
            for n in 1...12 {
                let reading = String(repeating: "dream ", count: n) + "of the ending"
                _ = try await store.put(id: String(format: "hit/%02d", n), content: TestSupport.content(reading: reading), expectedVersion: nil)
            }
            try await withTextClient(port: port) { c in
                var pages: [String] = []
                for (options, status) in [
                    ("limit=5", "OK 5 of 12 hits (1–5)"),
                    ("limit=5 offset=5", "OK 5 of 12 hits (6–10)"),
                    ("limit=5 offset=10", "OK 2 of 12 hits (11–12)"),
                    ("offset=12", "OK 0 of 12 hits"),
                ] {
                    let reply = try await c.command("SEARCH dream \(options)")
                    #expect(reply.status == status, "\(options)")
                    pages += reply.body.filter { $0.contains("hit/") }
                }
                let whole = try await c.command("SEARCH dream limit=20")
                #expect(whole.status == "OK 12 of 12 hits (1–12)")
                #expect(pages == whole.body.filter { $0.contains("hit/") })
                #expect(try await c.command("SEARCH dream subject=epilogue limit=1").status == "OK 1 of 12 hits (1–1)")
                #expect(try await c.command("SEARCH nowhere").status == "OK 0 hits")
            }
        }
    }

    @Test func findSummaryNamesTheSliceOfTheMatchesForEveryOffset() async throws {
        try await withStack { port, store in
            for n in 1...12 {
                _ = try await store.put(id: String(format: "page/%02d", n), content: TestSupport.content(), expectedVersion: nil)
            }
            try await withTextClient(port: port) { c in
                for (options, status, first) in [
                    ("limit=5", "OK 5 of 12 records (1–5)", "page/01"),
                    ("limit=5 offset=5", "OK 5 of 12 records (6–10)", "page/06"),
                    ("limit=5 offset=10", "OK 2 of 12 records (11–12)", "page/11"),
                    ("limit=1 offset=11", "OK 1 of 12 records (12–12)", "page/12"),
                    ("offset=12", "OK 0 of 12 records", nil),
                    ("offset=4000", "OK 0 of 12 records", nil),
                ] as [(String, String, String?)] {
                    let reply = try await c.command("FIND film=\"La La Land\" \(options)")
                    #expect(reply.status == status, "\(options)")
                    #expect(reply.body.dropFirst().first?.hasPrefix(first ?? "") ?? (first == nil), "\(options): \(reply)")
                    if first == nil { #expect(reply.body.count <= 1, "\(options): \(reply)") }
                }
            }
        }
    }

    @Test func searchOverTCPIgnoresCaseAndDiacriticsInBothDirections() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { c in
                let put = #"PUT dia/1 film="La La Land" year=2016 director="Damien Chazelle" subject=epilogue reading="Une rêverie au café, naïve et déjà vue." source="Critique" sourceKind=critic"#
                #expect(try await c.command(put).isOK)
                // Decomposed (NFD) spelling of the same words, as macOS keyboards may send them.
                let decomposed = "PUT dia/2 film=\"La La Land\" year=2016 director=x subject=epilogue reading=\"Cafe\u{301} ope\u{301}ra\" source=s sourceKind=critic"
                #expect(try await c.command(decomposed).isOK)
                for query in ["cafe", "CAFÉ", "café", "Cafe\u{301}"] {
                    let reply = try await c.command("SEARCH \(query)")
                    #expect(reply.status == "OK 2 of 2 hits (1–2)", "SEARCH \(query): \(reply)")
                }
                for (query, id) in [("reverie naive", "dia/1"), ("RÊVERIE NAÏVE DÉJÀ", "dia/1"), ("deja vue", "dia/1"), ("opera", "dia/2"), ("ÓPERA", "dia/2")] {
                    let reply = try await c.command("SEARCH \(query)")
                    #expect(reply.status == "OK 1 of 1 hit (1–1)", "SEARCH \(query): \(reply)")
                    #expect(reply.body.first?.contains(id) == true, "SEARCH \(query): \(reply)")
                }
                #expect(try await c.command("SEARCH cafeteria").status == "OK 0 hits")
            }
        }
    }
}
