import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

@Suite struct TelnetFilterTests {
    private static let iac: UInt8 = 255

    @Test func plainBytesPassThrough() {
        var filter = TelnetFilter()
        #expect(filter.filter(Array("PING\r\n".utf8)) == Array("PING\r\n".utf8))
        #expect(!filter.isInsideSequence)
    }

    @Test func doubledIACIsALiteral255() {
        var filter = TelnetFilter()
        #expect(filter.filter([65, 255, 255, 66]) == [65, 255, 66])
    }

    @Test(arguments: [251, 252, 253, 254] as [UInt8])
    func optionNegotiationIsRemovedWithItsOptionByte(verb: UInt8) {
        var filter = TelnetFilter()
        #expect(filter.filter([65, 255, verb, 1, 66]) == [65, 66])
    }

    @Test func subnegotiationIsSkippedWholeIncludingEscapedIAC() {
        var filter = TelnetFilter()
        // IAC SB NAWS 0 80 IAC IAC 0 24 IAC SE: the inner IAC IAC is data of the subnegotiation.
        #expect(filter.filter([65, 255, 250, 31, 0, 80, 255, 255, 0, 24, 255, 240, 66]) == [65, 66])
    }

    @Test func twoByteCommandsAreRemoved() {
        var filter = TelnetFilter()
        // NOP, AYT, GA, and an SE outside a subnegotiation.
        #expect(filter.filter([255, 241, 65, 255, 246, 255, 249, 255, 240, 66]) == [65, 66])
    }

    @Test func ctrlCLeavesNothingAndTheLineIsIgnored() throws {
        var filter = TelnetFilter()
        // IAC IP, IAC DO TIMING-MARK, then the CR LF telnet may send after it.
        let kept = filter.filter([255, 244, 255, 253, 6])
        #expect(kept.isEmpty)
        #expect(!filter.isInsideSequence)
        let line = filter.filter([255, 244, 255, 253, 6] + Array("\r".utf8))
        #expect(try TextCommand.parse(line: ByteBuffer(bytes: line)) == nil)
    }

    @Test func sequenceSplitAcrossChunksIsStillRemovedAtEverySplitPoint() {
        let stream: [UInt8] = Array("FI".utf8) + [255, 251, 1] + Array("ND".utf8) + [255, 250, 24, 0, 255, 255, 65, 255, 240]
            + [255, 255] + [255, 244, 255, 253, 6] + Array(" x\r\n".utf8)
        var whole = TelnetFilter()
        let expected = whole.filter(stream)
        #expect(expected == Array("FIND".utf8) + [255] + Array(" x\r\n".utf8))
        for cut in 0...stream.count {
            var filter = TelnetFilter()
            let out = filter.filter(stream[..<cut]) + filter.filter(stream[cut...])
            #expect(out == expected, "split at \(cut)")
        }
        var byByte = TelnetFilter()
        #expect(stream.flatMap { byByte.filter([$0]) } == expected)
    }

    @Test func stateIsReportedWhileInsideASequence() {
        var filter = TelnetFilter()
        _ = filter.filter([255])
        #expect(filter.isInsideSequence)
        _ = filter.filter([253])
        #expect(filter.isInsideSequence)
        _ = filter.filter([1])
        #expect(!filter.isInsideSequence)
    }
}
