import EpilogueModel
import EpilogueStoreClient
import NIOCore

/// One `IMPORT` command's body on a gateway connection, as a value type: the JSON lines after the
/// command up to the line `.`, checked one by one (`JSONLinesImport.parse`, the rules of
/// `epilogue-store import`) and cut into IMPORT batches that the store applies all or nothing.
///
/// Memory is bounded: at most one batch waits for the store while the next one fills; when that
/// one is full too, `canTakeLine` is false and the connection stops reading. A batch is sent only
/// once the one before it was acknowledged, so a failure leaves a prefix of whole batches.
///
/// The first bad line (or a batch the store refuses) ends the import: the batch being filled is
/// dropped, the rest of the body is read and discarded up to `.`, and the answer names the line.
/// No I/O: `GatewayConnectionStateMachine` feeds it lines and its handler sends the batches.
struct GatewayImport {
    enum Action: Equatable {
        /// Send this batch as one IMPORT and report the answer with `batchAnswered`.
        case send(ImportExisting, [ImportItem])
        /// The body ended and every batch is answered: this is IMPORT's reply.
        case finish(TextResponse)
        case wait
    }

    struct Limits: Equatable {
        /// A batch is sent once it holds this many records or this many bytes of lines (the
        /// defaults of `epilogue-store import`).
        var batchRecords = 1_000
        var batchBytes = 512 << 10
    }

    private let existing: ImportExisting
    private let keepVersions: Bool
    private let limits: Limits
    /// Body lines read so far: the number the next line gets is `lineNumber + 1`.
    private var lineNumber = 0
    private var filling: [ImportItem] = []
    private var fillingBytes = 0
    private var batchInFlight = false
    private var bodyEnded = false
    private var finished = false
    /// Why the import stopped; the rest of the body is discarded.
    private var failure: (code: TextErrorCode, message: String)?
    private var counts = ImportCounts()
    private var batches = 0

    init(existing: ImportExisting, keepVersions: Bool, limits: Limits = Limits()) {
        self.existing = existing
        self.keepVersions = keepVersions
        self.limits = limits
    }

    /// An IMPORT refused before its body (bad options, no AUTH): its body is still read up to
    /// `.` and discarded, so no JSON line is taken as a command.
    init(refusing reply: TextResponse) {
        self.init(existing: .replace, keepVersions: false)
        if case .error(let code, let message) = reply.status { failure = (code, message) } else { failure = (.internalError, "\(reply)") }
    }

    /// True until the line `.` (or the end of the input) was read.
    var isReadingBody: Bool { !bodyEnded }

    /// False while one batch waits for the store and the next one is full: read no more lines.
    var canTakeLine: Bool { !bodyEnded && (failure != nil || !batchInFlight || !isFull) }

    private var isFull: Bool { filling.count >= limits.batchRecords || fillingBytes >= limits.batchBytes }

    /// The next body line (the line `.` ends the body; `..x` is the stuffed line `.x`).
    mutating func line(_ event: LineEvent) {
        guard !bodyEnded else { return }
        switch event {
        case .tooLong(let limit):
            lineNumber += 1
            fail(.tooLarge, "line \(lineNumber): longer than \(limit) bytes (raise the gateway's --max-line)")
        case .line(var buffer):
            if buffer.readableBytesView.last == UInt8(ascii: "\r") { buffer.moveWriterIndex(to: buffer.writerIndex - 1) }
            let bytes = buffer.readableBytesView
            if bytes.count == 1 && bytes.first == UInt8(ascii: ".") {
                bodyEnded = true
                return
            }
            lineNumber += 1
            guard failure == nil else { return }
            let unstuffed = bytes.first == UInt8(ascii: ".") ? bytes.dropFirst() : bytes[...]
            if unstuffed.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }  // blank lines are skipped, as by `import`
            switch JSONLinesImport.parse(unstuffed, line: lineNumber, keepVersions: keepVersions) {
            case .success(let item):
                filling.append(item)
                fillingBytes += unstuffed.count
            case .failure(let bad):
                fail(.badRequest, bad.description)
            }
        }
    }

    /// The input ended (the client half-closed) before the line `.`: nothing of the batch being
    /// filled is applied.
    mutating func inputEnded() {
        guard !bodyEnded else { return }
        bodyEnded = true
        if failure == nil { fail(.badRequest, "the input ended after line \(lineNumber), before the line '.' that ends IMPORT's body") }
    }

    /// The store's answer to the batch last sent.
    mutating func batchAnswered(_ result: Result<ImportCounts, StoreClientError>) {
        batchInFlight = false
        switch result {
        case .success(let batch):
            counts += batch
            batches += 1
        case .failure(let error):
            // The store names the refused line ("line N: …"); the whole batch was not applied.
            let reply = GatewaySession.reply(to: error)
            if case .error(let code, let message) = reply.status, failure == nil { fail(code, message) }
        }
    }

    /// What to do now; call again after doing it, until `.wait`.
    mutating func nextAction() -> Action {
        guard !finished, !batchInFlight else { return .wait }
        if failure == nil, !filling.isEmpty, isFull || bodyEnded {
            let batch = filling
            filling = []
            fillingBytes = 0
            batchInFlight = true
            return .send(existing, batch)
        }
        guard bodyEnded else { return .wait }
        finished = true
        return .finish(reply)
    }

    private mutating func fail(_ code: TextErrorCode, _ message: String) {
        guard failure == nil else { return }
        failure = (code, message)
        filling = []
        fillingBytes = 0
    }

    private var reply: TextResponse {
        let counts = "\(self.counts.summary) in \(batches) \(batches == 1 ? "batch" : "batches")"
        guard let failure else { return .ok("imported \(counts)") }
        let applied = batches == 0 ? "nothing was imported" : "imported before it: \(counts); nothing after them"
        return .error(code: failure.code, message: "\(failure.message) (\(applied))")
    }
}
