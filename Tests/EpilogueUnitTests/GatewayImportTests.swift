import EpilogueModel
import EpilogueStoreClient
import NIOCore
import Testing
@testable import EpilogueGateway

/// `GatewayImport` alone, and the connection state machine routing an IMPORT's body: batches,
/// the unit of atomicity, bounded memory, bad lines, a missing terminator.
@Suite struct GatewayImportTests {
    static func record(_ id: String) -> String {
        #"{"id":"\#(id)","film":"La La Land","year":2016,"director":"Damien Chazelle","subject":"epilogue","reading":"A what-if.","source":"a critic","sourceKind":"critic","themes":["what-if"]}"#
    }

    private static func line(_ text: String) -> LineEvent { .line(ByteBuffer(string: text)) }

    private static func feed(_ body: inout GatewayImport, _ lines: [String]) {
        for text in lines { body.line(line(text)) }
    }

    @Test func aBodyUnderTheBatchLimitIsOneBatchSentOnlyOnceTheDotArrives() {
        var body = GatewayImport(existing: .skip, keepVersions: false)
        Self.feed(&body, (1...3).map { Self.record("a/\($0)") })
        #expect(body.nextAction() == .wait)
        body.line(Self.line(".\r"))
        guard case .send(let existing, let items) = body.nextAction() else { Issue.record("no batch"); return }
        #expect(existing == .skip && items.map(\.id) == ["a/1", "a/2", "a/3"] && items.map(\.line) == [1, 2, 3])
        #expect(body.nextAction() == .wait)
        body.batchAnswered(.success(ImportCounts(new: 1, replaced: 1, skipped: 1)))
        #expect(body.nextAction() == .finish(.ok("imported 2 records (1 new, 1 replaced; 1 skipped as existing) in 1 batch")))
        #expect(body.nextAction() == .wait)
    }

    @Test func aBadLineIsNamedByNumberAndNothingOfItsBatchIsSent() {
        var body = GatewayImport(existing: .replace, keepVersions: false)
        Self.feed(&body, [Self.record("b/1"), "", #"{"id":"b/3"}"#, Self.record("b/4"), "."])
        #expect(body.nextAction() == .finish(.error(code: .badRequest, message: "line 3: missing field 'film' (nothing was imported)")))
    }

    @Test func pastTheBatchLimitBatchesAreCommittedOneByOneAndReadsWaitWhileTheNextIsFull() {
        var body = GatewayImport(existing: .replace, keepVersions: false, limits: .init(batchRecords: 2, batchBytes: 1 << 20))
        Self.feed(&body, [Self.record("c/1"), Self.record("c/2")])
        guard case .send(_, let first) = body.nextAction() else { Issue.record("no first batch"); return }
        #expect(first.count == 2)
        Self.feed(&body, [Self.record("c/3"), Self.record("c/4")])
        // One batch waits for the store and the next is full: take no more lines.
        #expect(body.canTakeLine == false)
        #expect(body.nextAction() == .wait)
        body.batchAnswered(.success(ImportCounts(new: 2)))
        #expect(body.canTakeLine == true)
        guard case .send(_, let second) = body.nextAction() else { Issue.record("no second batch"); return }
        #expect(second.map(\.id) == ["c/3", "c/4"])
        // The store refuses the second batch (a CONFLICT on line 4): it was not applied; the
        // rest of the body is read and dropped.
        body.batchAnswered(.failure(.refused(code: .conflict, message: "line 4: 'c/4' is at version 3, not 0")))
        Self.feed(&body, [Self.record("c/5"), "."])
        #expect(body.nextAction() == .finish(.error(code: .conflict,
            message: "line 4: 'c/4' is at version 3, not 0 (imported before it: 2 records (2 new, 0 replaced; 0 skipped as existing) in 1 batch; nothing after them)")))
    }

    @Test func aBodyCutOffBeforeItsDotAppliesNothingOfItsLastBatch() {
        var body = GatewayImport(existing: .replace, keepVersions: false)
        Self.feed(&body, [Self.record("d/1")])
        body.inputEnded()
        #expect(body.nextAction() == .finish(.error(code: .badRequest,
            message: "the input ended after line 1, before the line '.' that ends IMPORT's body (nothing was imported)")))
    }

    @Test func anOverLongLineIsTooLargeAndAStuffedLineIsUnstuffed() {
        var body = GatewayImport(existing: .replace, keepVersions: false)
        Self.feed(&body, ["..", Self.record("e/2")])
        body.line(.tooLong(limit: 100))
        Self.feed(&body, ["."])
        // Line 1 (`..`, the stuffed line `.`) is not JSON: the first failure is reported.
        guard case .finish(let reply) = body.nextAction() else { Issue.record("not finished"); return }
        #expect(reply.statusLine.hasPrefix("ERR BAD_REQUEST line 1: not a JSON object"))
        var long = GatewayImport(existing: .replace, keepVersions: false)
        long.line(.tooLong(limit: 100))
        long.line(Self.line("."))
        #expect(long.nextAction() == .finish(.error(code: .tooLarge, message: "line 1: longer than 100 bytes (raise the gateway's --max-line) (nothing was imported)")))
    }

    @Test func theConnectionRunsNoLineAfterTheBodyUntilTheImportHasAnswered() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        #expect(machine.lineRead(Self.line("IMPORT")) == .run(Self.line("IMPORT")))
        machine.importStarted(GatewayImport(existing: .replace, keepVersions: false))
        // Body lines, even ones that look like commands, go to the import.
        #expect(machine.lineRead(Self.line(Self.record("f/1"))) == .wait)
        #expect(machine.lineRead(Self.line("QUIT")) == .wait)
        #expect(machine.lineRead(Self.line(".")) == .wait)
        #expect(machine.lineRead(Self.line("PING")) == .wait)
        #expect(machine.nextAction(writable: true) == .write(.error(code: .badRequest, message: "line 2: not a JSON object (truncated or malformed) (nothing was imported)")))
        #expect(machine.nextAction(writable: true) == .run(Self.line("PING")))
    }

    @Test func theMachineSendsTheBatchAndAnswersInCommandOrder() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        _ = machine.lineRead(Self.line("GET x"))
        let get = machine.awaitingReply()
        _ = machine.lineRead(Self.line("IMPORT"))
        machine.importStarted(GatewayImport(existing: .replace, keepVersions: false))
        _ = machine.lineRead(Self.line(Self.record("g/1")))
        _ = machine.lineRead(Self.line("."))
        guard case .sendImportBatch(_, let items) = machine.nextAction(writable: true) else { Issue.record("no batch"); return }
        #expect(items.map(\.id) == ["g/1"])
        machine.importBatchAnswered(.success(ImportCounts(new: 1)))
        #expect(machine.nextAction(writable: true) == .wait)  // GET x is still at the head
        _ = machine.replyArrived(sequence: get, .ok("x"))
        #expect(machine.nextAction(writable: true) == .write(.ok("x")))
        #expect(machine.nextAction(writable: true) == .write(.ok("imported 1 record (1 new, 0 replaced; 0 skipped as existing) in 1 batch")))
    }

    @Test func aHalfCloseInTheMiddleOfTheBodyEndsTheImportWithoutItsLastBatch() {
        var machine = GatewayConnectionStateMachine(maximumInFlight: 8)
        _ = machine.lineRead(Self.line("IMPORT"))
        machine.importStarted(GatewayImport(existing: .replace, keepVersions: false))
        _ = machine.lineRead(Self.line(Self.record("h/1")))
        machine.drain(because: .inputClosed)
        #expect(machine.nextAction(writable: true) == .write(.error(code: .badRequest,
            message: "the input ended after line 1, before the line '.' that ends IMPORT's body (nothing was imported)")))
        #expect(machine.nextAction(writable: true) == .close)
    }
}
