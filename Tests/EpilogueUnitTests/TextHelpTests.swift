import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

@Suite struct TextHelpTests {
    @Test func overviewListsEveryCommandWithADescription() {
        let help = TextHelp.overview()
        #expect(!help.isError)
        for name in TextCommand.names {
            let row = help.body.lines.first { $0.hasPrefix(name + " ") }
            #expect(row != nil, "HELP misses \(name)")
            #expect((row?.count ?? 0) > name.count + 10, "\(name) has no description")
        }
    }

    @Test(arguments: TextCommand.names)
    func topicGivesUsageDescriptionAndAnExampleThatParses(name: String) throws {
        let help = TextHelp.topic(name)
        #expect(!help.isError)
        #expect(help.body.lines.first?.hasPrefix("usage:   \(name)") == true)
        #expect(help.body.lines.count >= 3)
        let example = try #require(help.body.lines.last)
        #expect(example.hasPrefix("example: "))
        let command = try parse(String(example.dropFirst("example: ".count)))
        #expect(command?.name == name)
    }

    @Test func helpForAnAliasOrAnUnknownCommand() {
        #expect(TextHelp.topic("DELETE").statusLine == "OK DEL")
        #expect(TextHelp.topic("NOPE").errorCode == .badRequest)
    }
}
