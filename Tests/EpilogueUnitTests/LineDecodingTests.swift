import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

@Suite struct LineDecodingTests {
    @Test func trailingCRIsDropped() throws {
        #expect(try TextCommand.decodeLine(ByteBuffer(string: "PING\r")) == "PING")
        #expect(try TextCommand.parse(line: ByteBuffer(string: "ping\r")) == .ping)
    }

    @Test func onlyOneTrailingCRIsDroppedAndInnerCRStays() throws {
        #expect(try TextCommand.decodeLine(ByteBuffer(string: "a\rb\r\r")) == "a\rb\r")
    }

    @Test func lineOfOnlyCRIsBlank() throws {
        #expect(try TextCommand.parse(line: ByteBuffer(string: "\r")) == nil)
        #expect(try TextCommand.parse(line: ByteBuffer()) == nil)
    }

    @Test func utf8IsKept() throws {
        #expect(try TextCommand.parse(line: ByteBuffer(string: #"SEARCH café film="Amélie""#))
                == .search(text: "café", RecordFilter(film: "Amélie"), limit: 10))
    }

    @Test(arguments: [[0xFF], [0x50, 0xC3], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0x47, 0x45, 0x54, 0x20, 0x80, 0x0D]] as [[UInt8]])
    func invalidUTF8IsABadRequest(bytes: [UInt8]) {
        #expect(throws: TextCommandError(code: .badRequest, message: "line is not valid UTF-8")) {
            try TextCommand.decodeLine(ByteBuffer(bytes: bytes))
        }
    }
}
