import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

private let putLaLaLand = #"PUT lll/epilogue film="La La Land" year=2016 director="Damien Chazelle" subject=epilogue reading="The montage is a \"what if\": the life they gave up." source="Damien Chazelle, interview" sourceKind=director themes=what-if,sacrifice"#

@Suite(.timeLimit(.minutes(2))) struct GatewayTests {
    @Test func everyCommandAnswersOverTCP() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command("PING").status == "OK PONG")
                let put = try await c.command(putLaLaLand)
                #expect(put.status == "OK lll/epilogue version 1")
                let get = try await c.command("GET lll/epilogue")
                #expect(get.status == "OK lll/epilogue")
                #expect(get.body.contains("film:        La La Land"))
                #expect(get.body.contains("themes:      what-if, sacrifice"))
                #expect(get.body.contains(#"reading:     The montage is a "what if": the life they gave up."#))
                let find = try await c.command(#"find film="La La Land" source=director limit=5"#)
                #expect(find.status == "OK 1 of 1 records (1–1)")
                #expect(find.body.first?.hasPrefix("ID") == true)
                #expect(find.body.dropFirst().first?.hasPrefix("lll/epilogue  La La Land") == true)
                let search = try await c.command("SEARCH gave up film=\"La La Land\"")
                #expect(search.status == "OK 1 of 1 hit (1–1)")
                #expect(search.body.count == 2)
                #expect(search.body[0].contains("lll/epilogue"))
                #expect(search.body[1].contains("[gave] [up]"))
                #expect(try await c.command("FILMS").body == ["FILM        YEAR  DIRECTOR         RECORDS", "La La Land  2016  Damien Chazelle  1"])
                #expect(try await c.command("THEMES film=\"La La Land\"").body.count == 3)
                let stats = try await c.command("STATS")
                #expect(stats.body.contains { $0.hasPrefix("store_records") && $0.hasSuffix(" 1") })
                #expect(stats.body.contains { $0.hasPrefix("store_reachable") && $0.hasSuffix("yes") })
                #expect(stats.body.contains { $0.hasPrefix("gateway_connections ") })
                #expect(try await c.command("HELP").body.contains { $0.hasPrefix("SEARCH") })
                let helpSearch = try await c.command("help search")
                #expect(helpSearch.body.contains { $0.hasPrefix("example: SEARCH") })
                #expect(try await c.command("DEL lll/epilogue").status == "OK lll/epilogue deleted (was version 1)")
                #expect(try await c.command("GET lll/epilogue").errorCode == "NOT_FOUND")
                #expect(try await c.command("QUIT").status == "OK bye")
                #expect(await c.isClosedByServer())
            }
        }
    }

    @Test func errorCodesAreStableAndClear() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command("FROB").errorCode == "UNKNOWN_COMMAND")
                #expect(try await c.command("GET").errorCode == "BAD_REQUEST")
                #expect(try await c.command("GET nope").errorCode == "NOT_FOUND")
                #expect(try await c.command("FIND colour=red").status == "ERR BAD_REQUEST unknown option 'colour' for FIND (expected film, limit, offset, source, subject, theme)")
                #expect(try await c.command("FIND limit=0").errorCode == "BAD_REQUEST")
                #expect(try await c.command("FIND source=fan").errorCode == "BAD_REQUEST")
                #expect(try await c.command("SEARCH").errorCode == "BAD_REQUEST")
                #expect(try await c.command("PUT x film=F").status.hasPrefix("ERR BAD_REQUEST missing field"))
                #expect(try await c.command(#"GET "unterminated"#).status == "ERR BAD_REQUEST unterminated quote")
                #expect(try await c.command("FORMAT xml").errorCode == "BAD_REQUEST")
                // Store-side validation arrives as INVALID_RECORD naming the field.
                let invalid = try await c.command(putLaLaLand.replacingOccurrences(of: "themes=what-if,sacrifice", with: "themes=Not_A_Tag"))
                #expect(invalid.errorCode == "INVALID_RECORD")
                #expect(invalid.status.contains("themes"))
                #expect(try await c.command(putLaLaLand + " ifversion=0").isOK)
                let conflict = try await c.command(putLaLaLand + " ifversion=0")
                #expect(conflict.errorCode == "CONFLICT")
                #expect(try await c.command(putLaLaLand + " ifversion=1").status == "OK lll/epilogue version 2")
                #expect(try await c.command("DEL lll/epilogue ifversion=1").errorCode == "CONFLICT")
            }
        }
    }

    @Test func quotedValuesKeepSpacesQuotesBackslashesAndNewlines() async throws {
        try await withStack { port, store in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                let line = #"PUT q/1 film="La La Land" year=2016 director="Damien Chazelle" subject="final scene" reading="He said \"no\", a \\ b\nsecond line" source="a critic" sourceKind=critic"#
                #expect(try await c.command(line).isOK)
                let record = try store.get(id: "q/1")
                #expect(record.content.reading == "He said \"no\", a \\ b\nsecond line")
                #expect(record.content.subject == "final scene")
            }
        }
    }

    @Test func bodyLinesStartingWithADotAreStuffed() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command(#"PUT d/1 film=".hack" year=2002 director=Someone subject=end reading=r source=s sourceKind=critic"#).isOK)
                try await c.send("FILMS\n")
                let raw = try await c.readRawReply()
                #expect(raw == ["OK 1 films", "FILM   YEAR  DIRECTOR  RECORDS", "..hack  2002  Someone   1", "."])
            }
        }
    }

    @Test func jsonModeSendsOneObjectPerBodyLine() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command(putLaLaLand).isOK)
                #expect(try await c.command("FORMAT json").status == "OK format json")
                let get = try await c.command("GET lll/epilogue")
                #expect(get.body.count == 1)
                let object = try JSONSerialization.jsonObject(with: Data(get.body[0].utf8)) as! [String: Any]
                #expect(object["id"] as? String == "lll/epilogue")
                #expect(object["themes"] as? [String] == ["what-if", "sacrifice"])
                #expect(object["version"] as? Int == 1)
                for command in ["FIND", "SEARCH montage", "FILMS", "THEMES", "STATS"] {
                    let reply = try await c.command(command)
                    #expect(reply.isOK, "\(command): \(reply)")
                    #expect(!reply.body.isEmpty)
                    for line in reply.body {
                        #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "\(command): \(line)")
                    }
                }
                #expect(try await c.command("FORMAT text").isOK)
                #expect(try await c.command("GET lll/epilogue").body.count > 5)
            }
        }
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                var batch = ""
                for i in 0..<30 {
                    batch += putLaLaLand.replacingOccurrences(of: "lll/epilogue", with: "p/\(i)") + "\r\n"
                    batch += "GET p/\(i)\r\n"
                }
                batch += "PING\r\n"
                try await c.send(batch)
                for i in 0..<30 {
                    #expect(try await c.readReply().status == "OK p/\(i) version 1")
                    #expect(try await c.readReply().status == "OK p/\(i)")
                }
                #expect(try await c.readReply().status == "OK PONG")
            }
        }
    }

    @Test func pipelinedSessionCommandsApplyOnlyToTheCommandsAfterThem() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command(putLaLaLand).status == "OK lll/epilogue version 1")
                // Sent in one write: the gateway reads all of it before the first GET is answered.
                try await c.send("GET lll/epilogue\r\nFORMAT json\r\nGET lll/epilogue\r\nFORMAT text\r\nGET lll/epilogue\r\n")
                let first = try await c.readReply()
                #expect(first.body.contains("film:        La La Land"))
                #expect(try await c.readReply().status == "OK format json")
                let json = try await c.readReply()
                #expect(json.body.count == 1 && json.body[0].hasPrefix("{") && json.body[0].contains(#""film":"La La Land""#))
                #expect(try await c.readReply().status == "OK format text")
                #expect(try await c.readReply().body.contains("film:        La La Land"))
            }
        }
    }

    @Test func pipelinedWritesToOneIdAreAppliedInTheOrderSent() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                var batch = ""
                for version in 1...40 {
                    batch += putLaLaLand.replacingOccurrences(of: "subject=epilogue", with: "subject=take\(version)") + " ifversion=\(version - 1)\r\n"
                }
                batch += "GET lll/epilogue\r\n"
                try await c.send(batch)
                for version in 1...40 {
                    #expect(try await c.readReply().status == "OK lll/epilogue version \(version)")
                }
                let get = try await c.readReply()
                #expect(get.body.contains("subject:     take40"))
                #expect(get.body.contains("version:     40"))
            }
        }
    }

    @Test func nothingAfterQuitIsExecuted() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                try await c.send("PING\r\nQUIT\r\n\(putLaLaLand)\r\n")
                #expect(try await c.readReply().status == "OK PONG")
                #expect(try await c.readReply().status == "OK bye")
                #expect(await c.isClosedByServer())
            }
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command("GET lll/epilogue").errorCode == "NOT_FOUND")
            }
        }
    }

    @Test func overLongLineIsRefusedAndTheConnectionStaysUsable() async throws {
        try await withStack(maximumLineLength: 1024) { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                try await c.send("GET " + String(repeating: "x", count: 5000) + "\n")
                let reply = try await c.readReply()
                #expect(reply.errorCode == "TOO_LARGE")
                #expect(try await c.command("PING").status == "OK PONG")
                // Arriving in pieces, with no newline until the end, it is refused the same way.
                for _ in 0..<10 { try await c.send(String(repeating: "y", count: 500)) }
                try await c.send("\nPING\n")
                #expect(try await c.readReply().errorCode == "TOO_LARGE")
                #expect(try await c.readReply().status == "OK PONG")
            }
        }
    }

    @Test func telnetControlSequencesAreIgnored() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                // What telnet sends for Ctrl-C: IAC IP, IAC DO TIMING-MARK; then a negotiation, then a command.
                try await c.sendBytes([255, 244, 255, 253, 6] + Array("\r\n".utf8))
                try await c.sendBytes([255, 251, 31, 255, 250, 31, 0, 80, 0, 24, 255, 240] + Array("PI".utf8))
                try await c.sendBytes([255, 241] + Array("NG\r\n".utf8))
                #expect(try await c.readReply().status == "OK PONG")
            }
        }
    }

    @Test func invalidUTF8IsABadRequest() async throws {
        try await withStack { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                try await c.sendBytes(Array("GET ".utf8) + [0xC3, 0x28] + Array("\n".utf8))
                let reply = try await c.readReply()
                #expect(reply.status == "ERR BAD_REQUEST line is not valid UTF-8")
                #expect(try await c.command("PING").isOK)
            }
        }
    }

    @Test func writesNeedAuthWhenAWriteTokenIsSet() async throws {
        try await withStack(writeToken: "let-me-write") { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command(putLaLaLand).errorCode == "UNAUTHORIZED")
                #expect(try await c.command("DEL x").errorCode == "UNAUTHORIZED")
                #expect(try await c.command("GET lll/epilogue").errorCode == "NOT_FOUND")  // reads stay open
                #expect(try await c.command("AUTH wrong").errorCode == "UNAUTHORIZED")
                #expect(try await c.command("AUTH let-me-write").status == "OK authorized for writes")
                #expect(try await c.command(putLaLaLand).isOK)
            }
            try await withTextClient(port: port) { (other: TextTestClient) async throws -> Void in
                let reply = try await other.command("DEL lll/epilogue")
                #expect(reply.errorCode == "UNAUTHORIZED")
            }
        }
    }

    @Test func connectionsBeyondTheLimitAreRefusedWithBusy() async throws {
        try await withStack(maximumConnections: 1) { port, _ in
            try await withTextClient(port: port) { (first: TextTestClient) async throws -> Void in
                #expect(try await first.command("PING").isOK)
                try await withTextClient(port: port) { (second: TextTestClient) async throws -> Void in
                    #expect(try await second.readReply().errorCode == "BUSY")
                    #expect(await second.isClosedByServer())
                }
                #expect(try await first.command("PING").isOK)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func storeDownGivesStoreUnavailableAndTheGatewayRecovers() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let store = try await StoreProcess(directory: dir)
        defer { store.stop() }
        try await store.waitUntilServing()
        try await withGateway(storePort: store.port) { port, _ in
            try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                #expect(try await c.command(putLaLaLand).isOK)
                store.kill()
                var reply = try await c.command("GET lll/epilogue")
                for _ in 0..<50 where reply.errorCode != "STORE_UNAVAILABLE" {
                    try await Task.sleep(for: .milliseconds(20))
                    reply = try await c.command("GET lll/epilogue")
                }
                #expect(reply.errorCode == "STORE_UNAVAILABLE")
                let stats = try await c.command("STATS")
                #expect(stats.body.contains { $0.hasPrefix("store_reachable") && $0.hasSuffix("no") })
                try await store.restart()
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(10)
                repeat {
                    reply = try await c.command("GET lll/epilogue")
                    if reply.isOK { break }
                    try await Task.sleep(for: .milliseconds(50))
                } while clock.now < deadline
                #expect(reply.status == "OK lll/epilogue", "the gateway did not recover: \(reply)")
            }
        }
    }

    @Test func silentStoreGivesTimeout() async throws {
        try await withSilentStore { storePort in
            try await withGateway(storePort: storePort, requestTimeout: .milliseconds(200)) { port, _ in
                try await withTextClient(port: port) { (c: TextTestClient) async throws -> Void in
                    let reply = try await c.command("GET anything")
                    #expect(reply.errorCode == "TIMEOUT")
                }
            }
        }
    }
}

/// A fake store that completes the handshake and then never answers: for timeouts.
func withSilentStore<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
                try channel.pipeline.syncOperations.addHandler(SilentStoreHandler())
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    defer { server.close(promise: nil) }
    return try await body(server.localAddress!.port!)
}

final class SilentStoreHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame
    private var machine = StoreConnectionStateMachine(secret: nil)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .send(let message, let id) = machine.frameReceived(unwrapInboundIn(data)) {
            context.writeAndFlush(wrapOutboundOut(message.frame(requestID: id)), promise: nil)
        }
        // Requests (.serve) are swallowed: the store "hangs".
    }
}
