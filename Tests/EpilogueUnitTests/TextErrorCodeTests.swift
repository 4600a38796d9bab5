import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

/// The text protocol's error vocabulary is `TextErrorCode`: the documented table lists exactly its
/// cases, and the store's codes map onto it without blaming the client for server faults.
@Suite struct TextErrorCodeTests {
    @Test func theStatusCodeTableListsExactlyTheEnumsCases() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/TEXT_PROTOCOL.md"), encoding: .utf8)
        let section = try #require(text.components(separatedBy: "## Status codes").dropFirst().first?.components(separatedBy: "\n## ").first)
        let documented = section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map {
            $0.split(separator: "`")[1]
        }.map(String.init)
        #expect(documented == TextErrorCode.allCases.map(\.rawValue))
    }

    @Test func serverFaultsAreNeverReportedAsTheClientsMistake() {
        for code in ErrorCode.allCases {
            let text = TextErrorCode(storeCode: code)
            switch code {
            case .versionUnsupported, .unknownMessage, .protocolViolation, .internalError:
                #expect(text == .internalError, "\(code)")
            case .unauthorized, .busy:
                #expect(text == .storeUnavailable, "\(code): the gateway's store link, not the client")
            default:
                #expect(text.rawValue == code.name, "\(code) keeps its name")
            }
        }
    }

    @Test func theStatusLineIsRenderedFromTheCode() {
        #expect(TextResponse.error(code: .storeUnavailable, message: "down").statusLine == "ERR STORE_UNAVAILABLE down")
        #expect(TextResponse.error(code: .internalError, message: "x").errorCode == .internalError)
        #expect(TextResponse.ok("fine").errorCode == nil)
    }
}
