import EpilogueProtocol
import EpilogueStoreClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStore

/// A store stand-in that completes the handshake and then holds every request until the test
/// answers it, so a test can see how many requests the gateway has sent.
final class HeldStore: Sendable {
    fileprivate struct Held {
        var channel: any Channel
        var requestID: UInt32
        var message: ClientMessage
    }

    private let held = NIOLockedValueBox<[Held]>([])
    private let received = NIOLockedValueBox(0)
    /// Once released, requests are answered as they arrive.
    private let released = NIOLockedValueBox(false)
    private let listener: any Channel

    var port: Int { listener.localAddress?.port ?? 0 }
    var requestsReceived: Int { received.withLockedValue { $0 } }

    init() async throws {
        let heldBox = held
        let receivedBox = received
        let releasedBox = released
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                    try channel.pipeline.syncOperations.addHandler(Handler(held: heldBox, received: receivedBox, released: releasedBox))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    /// Answers every held PING with PONG, and from now on every PING as it arrives.
    func release() {
        released.withLockedValue { $0 = true }
        let all = held.withLockedValue { held in defer { held.removeAll() }; return held }
        for request in all { Self.answer(request) }
    }

    fileprivate static func answer(_ request: Held) {
        guard case .ping(let data) = request.message else { return }
        request.channel.writeAndFlush(ServerMessage.pong(data).frame(requestID: request.requestID), promise: nil)
    }

    func close() { listener.close(promise: nil) }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = Frame
        typealias OutboundOut = Frame
        var machine = StoreConnectionStateMachine(secret: nil)
        let held: NIOLockedValueBox<[Held]>
        let received: NIOLockedValueBox<Int>
        let released: NIOLockedValueBox<Bool>

        init(held: NIOLockedValueBox<[Held]>, received: NIOLockedValueBox<Int>, released: NIOLockedValueBox<Bool>) {
            self.held = held
            self.received = received
            self.released = released
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch machine.frameReceived(unwrapInboundIn(data)) {
            case .send(let message, let id): context.writeAndFlush(wrapOutboundOut(message.frame(requestID: id)), promise: nil)
            case .sendAndClose(let message, let id): context.writeAndFlush(wrapOutboundOut(message.frame(requestID: id)), promise: nil); context.close(promise: nil)
            case .serve(let message, let id):
                let channel = context.channel
                received.withLockedValue { $0 += 1 }
                let request = Held(channel: channel, requestID: id, message: message)
                if released.withLockedValue({ $0 }) {
                    HeldStore.answer(request)
                } else {
                    held.withLockedValue { $0.append(request) }
                }
            case .ignore, .refuse: break
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct GatewayPipeliningLimitTests {
    /// docs/TEXT_PROTOCOL.md: "Up to 128 commands of one connection may be waiting for replies;
    /// beyond that … the gateway stops reading from that connection until it catches up."
    @Test func atMost128CommandsOfOneConnectionWaitForTheStoreAndTheRestAreServedOnceItAnswers() async throws {
        let store = try await HeldStore()
        defer { store.close() }
        try await withGateway(storePort: store.port, requestTimeout: .seconds(30)) { port, _ in
            try await withTextClient(port: port) { c in
                try await c.send(String(repeating: "PING\n", count: 300))
                // The gateway reads ahead until 128 commands wait; poll until the count stops moving.
                var last = -1
                for _ in 0..<100 {
                    try await Task.sleep(for: .milliseconds(30))
                    let now = store.requestsReceived
                    if now == last && now > 0 { break }
                    last = now
                }
                try await Task.sleep(for: .milliseconds(200))
                #expect(store.requestsReceived == 128, "requests the gateway sent on while none was answered")
                // Answer; it reads on, 128 at a time, until all 300 are served, in order.
                store.release()
                var replies = 0
                while replies < 300 {
                    let reply = try await c.readReply()
                    #expect(reply.status == "OK PONG", "reply \(replies)")
                    replies += 1
                }
                #expect(store.requestsReceived == 300)
            }
        }
    }
}

/// The handler's read gate on an EmbeddedChannel: a read is held while the client does not read
/// its replies (the channel is not writable) and issued once it is writable again.
@Suite struct GatewayReadBackpressureTests {
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test func readsStopWhileTheClientDoesNotReadItsRepliesAndResumeAfter() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        let pool = StorePool(configuration: .init(host: "127.0.0.1", port: 1), logger: TestSupport.logger)
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(GatewayConnectionHandler(session: GatewaySession(writeToken: nil),
                                                                               maximumInFlight: 128, logger: TestSupport.logger,
                                                                               figures: { [] }, send: StoreLane(pool: pool, loop: channel.eventLoop).send))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.read()
        #expect(counter.reads == 1, "a writable connection with nothing in flight reads")

        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        channel.read()
        #expect(counter.reads == 1, "no read while the replies are not being taken")
        // A command read before the stall is still answered (HELP needs no store).
        try channel.writeInbound(LineEvent.line(ByteBuffer(string: "HELP PING")))
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)

        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 2, "the held read is issued once the channel is writable again")
        _ = try? channel.finish()
    }
}

@Suite(.timeLimit(.minutes(1))) struct GatewayHalfCloseTests {
    /// Sends `bytes`, half-closes, and returns everything the gateway sent until it closed.
    private func sendAndHalfClose(port: Int, _ bytes: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel,
                                                                configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            outbound.finish()
            var received = ""
            for try await chunk in inbound { received += String(buffer: chunk) }
            return received
        }
    }

    @Test func lastLineWithoutLFBeforeTheClientHalfClosesIsServed() async throws {
        try await withStack { port, _ in
            let alone = try await sendAndHalfClose(port: port, "PING")
            #expect(alone == "OK PONG\r\n.\r\n")
            let afterAnother = try await sendAndHalfClose(port: port, "HELP PING\nPING")
            #expect(afterAnother.hasPrefix("OK") && afterAnother.hasSuffix(".\r\nOK PONG\r\n.\r\n"), "\(afterAnother)")
            let withCR = try await sendAndHalfClose(port: port, "GET nothing/here\r")
            #expect(withCR == "ERR NOT_FOUND no record with id 'nothing/here'\r\n.\r\n")
            // A lone blank remainder gets no answer, as a blank line would not.
            let blankRest = try await sendAndHalfClose(port: port, "PING\n   ")
            #expect(blankRest == "OK PONG\r\n.\r\n")
        }
    }
}

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

/// The documented defaults (docs/TEXT_PROTOCOL.md "Limits", docs/OPERATIONS.md) against the code's,
/// without waiting for them: the values are read from the configuration types and the binaries' --help.
@Suite struct DocumentedTimeoutDefaultsTests {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The cells of the first table row holding the cell `cell`.
    static func row(_ cell: String, in document: String) throws -> [String] {
        let text = try String(contentsOf: root.appendingPathComponent(document), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("|") && $0.contains("| \(cell) |") },
                                "\(document) has no row with '\(cell)'")
        return line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    @Test func gatewayIdleAndUnfinishedLineDefaultsAreTheDocumentedOnes() throws {
        #expect(try Self.row("idle client", in: "docs/TEXT_PROTOCOL.md")[1] == "300 s")
        #expect(try Self.row("`EPILOGUE_GATEWAY_IDLE_TIMEOUT`", in: "docs/OPERATIONS.md")[2] == "`300`")
        #expect(try Self.row("unfinished line", in: "docs/TEXT_PROTOCOL.md")[1] == "min(idle timeout, 30 s)")
        let defaults = GatewayServer.Configuration()
        #expect(defaults.idleTimeout == .seconds(300))
        #expect(defaults.lineTimeout == .seconds(30))
        #expect(GatewayServer.Configuration.lineTimeout(idleTimeout: .seconds(300)) == .seconds(30))
        #expect(GatewayServer.Configuration.lineTimeout(idleTimeout: .seconds(10)) == .seconds(10))
        #expect(GatewayServer.Configuration.lineTimeout(idleTimeout: .seconds(31)) == .seconds(30))
    }

    @Test func storeIdleAndFrameTimeoutDefaultsAreTheDocumentedOnes() throws {
        #expect(try Self.row("`EPILOGUE_STORE_IDLE_TIMEOUT`", in: "docs/OPERATIONS.md")[2] == "`300`")
        #expect(try Self.row("`EPILOGUE_STORE_FRAME_TIMEOUT`", in: "docs/OPERATIONS.md")[2] == "`30`")
        let defaults = StoreServer.Configuration()
        #expect(defaults.idleTimeout == .seconds(300))
        #expect(defaults.frameTimeout == .seconds(30))
    }

    /// The executables' own defaults, as `--help` prints them (ArgumentParser shows "(default: N)").
    @Test(arguments: [("epilogue-gateway", "--idle-timeout", "300"), ("epilogue-store", "--idle-timeout", "300"),
                      ("epilogue-store", "--frame-timeout", "30")])
    func executableDefaultIsTheDocumentedOne(_ executable: String, _ flag: String, _ value: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProducts.path(executable))
        process.arguments = ["--help"]
        process.environment = [:]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let help = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The option's entry runs from its flag to the next line that starts another option.
        let start = try #require(help.range(of: "  \(flag) "), "\(executable) --help has no \(flag):\n\(help)")
        let rest = help[start.upperBound...]
        let entry = String(rest).components(separatedBy: "\n  -")[0]
        // Help text is wrapped to the terminal width: compare with whitespace runs as one space.
        let flat = entry.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("(default: \(value))"), "\(executable) \(flag): \(entry)")
    }
}
