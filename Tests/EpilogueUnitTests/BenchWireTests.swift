import EpilogueBenchWire
import EpilogueTestSupport
import Testing
@testable import EpilogueGateway

// The load generator's framing and request building (`epilogue-bench load`): a wrong terminator
// or a miscounted RESP length would silently turn figures into nonsense, so they are pinned here
// without sockets.

/// The first reply, nil while incomplete; a malformed reply is a test failure here (the tests that
/// want one call the scanner directly).
private func scan(_ framing: ReplyFraming, _ text: String) -> ScannedReply? {
    do {
        return try ReplyScanner(framing: framing).scan(Array(text.utf8))
    } catch {
        Issue.record("malformed: \(error)")
        return nil
    }
}

@Suite struct BenchWireTests {
    @Test func textReplyEndsAtALoneDotLineAndNotAtAStuffedOne() {
        let reply = "OK 1 record\r\n..a body line starting with a dot\r\nreading: x\r\n.\r\n"
        #expect(scan(.text, reply + "OK PONG\r\n.\r\n") == ScannedReply(length: reply.utf8.count, outcome: .ok))
        #expect(scan(.text, "OK 1 record\r\n..\r\nmore") == nil)
    }

    @Test func textReplyWithErrFirstLineIsAnError() throws {
        #expect(scan(.text, "ERR NOT_FOUND no record bench/1\r\n.\r\n")?.outcome == .error)
        #expect(scan(.text, "OK 1 record\r\nERR is only text here\r\n.\r\n")?.outcome == .ok)
    }

    @Test func respBulkStringIsSkippedByLengthEvenWhenItHoldsLineBreaks() throws {
        let reply = "$12\r\nab\r\n\r\n.\r\nEND\r\n"
        #expect(scan(.redis, reply + "+OK\r\n") == ScannedReply(length: reply.utf8.count, outcome: .ok))
        #expect(scan(.redis, "$12\r\nab\r\n\r\n.\r\nEND") == nil)
        #expect(scan(.redis, "$12\r\nab\r\n") == nil)
    }

    @Test func respNilsErrorsAndNestedArraysAreClassified() throws {
        #expect(scan(.redis, "$-1\r\n") == ScannedReply(length: 5, outcome: .empty))
        #expect(scan(.redis, "-ERR wrong type\r\n")?.outcome == .error)
        let nested = "*2\r\n*1\r\n:5\r\n*2\r\n$1\r\nx\r\n-ERR inner\r\n"
        #expect(scan(.redis, nested) == ScannedReply(length: nested.utf8.count, outcome: .error))
        #expect(scan(.redis, "*2\r\n:1\r\n") == nil)
        #expect(throws: MalformedReply.self) { try ReplyScanner(framing: .redis).scan(Array("?what\r\n".utf8)) }
    }

    @Test func memcachedGetSkipsValueBlocksByLengthUpToEnd() throws {
        let hit = "VALUE k 0 9\r\nEND\r\nEND!\r\nEND\r\n"
        #expect(scan(.memcached, hit) == ScannedReply(length: hit.utf8.count, outcome: .ok))
        #expect(scan(.memcached, "END\r\n")?.outcome == .empty)
        #expect(scan(.memcached, "VALUE k 0 9\r\nEND\r\nEN") == nil)
        #expect(scan(.memcached, "STORED\r\n") == ScannedReply(length: 8, outcome: .ok))
        #expect(scan(.memcached, "SERVER_ERROR out of memory\r\n")?.outcome == .error)
    }

    @Test func templateRendersLinesAndRESPArraysWithTheSameSlots() throws {
        let template = try RequestTemplate("SET {id} {json}")
        var values = RequestTemplate.Values()
        values.id = Array("bench/1".utf8)
        values.json = Array(#"{"a": "b c"}"#.utf8)
        var line: [UInt8] = []
        template.renderLine(values, into: &line)
        #expect(String(decoding: line, as: UTF8.self) == "SET bench/1 {\"a\": \"b c\"}\r\n")
        var resp: [UInt8] = []
        template.renderRESP(values, into: &resp)
        #expect(String(decoding: resp, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$7\r\nbench/1\r\n$12\r\n{\"a\": \"b c\"}\r\n")
        let memcached = try RequestTemplate(#"set {id} 0 0 {jsonlen}\r\n{json}"#)
        var set: [UInt8] = []
        memcached.renderLine(values, into: &set)
        #expect(String(decoding: set, as: UTF8.self) == "set bench/1 0 0 12\r\n{\"a\": \"b c\"}\r\n")
        let get = try RequestTemplate("GET {id}")
        #expect(memcached.drawsRecord && !get.drawsRecord)
    }

    @Test func putArgumentsParseBackToTheSameRecordInTheGateway() throws {
        let reading = "He said \"no\" — a back\\slash,\nand a second line."
        let arguments = TextPutArguments.render(id: "bench/0000001", fields: [
            "film": "La La Land", "year": "2016", "director": "Damien Chazelle", "subject": "final scene", "reading": reading,
            "source": "Reviewer 1, Outlet 2", "sourceKind": "critic", "themes": "grief,what-if",
        ])
        guard case .put(let id, let content, let ifVersion)? = try TextCommand.parse("PUT " + arguments) else {
            Issue.record("not parsed as PUT")
            return
        }
        #expect(id == "bench/0000001" && ifVersion == nil)
        #expect(content.film == "La La Land" && content.year == 2016 && content.director == "Damien Chazelle")
        #expect(content.subject == "final scene" && content.reading == reading && content.source == "Reviewer 1, Outlet 2")
        #expect(content.sourceKind.name == "critic" && content.themes == ["grief", "what-if"])
    }
}
