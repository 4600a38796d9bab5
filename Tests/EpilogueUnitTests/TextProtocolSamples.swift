import EpilogueModel
import EpilogueProtocol
import EpilogueTestSupport
import Foundation
import NIOCore
import Testing
@testable import EpilogueGateway

// The pure text-protocol layer: tokenizing, parsing, framing, rendering, telnet filtering.
// No sockets here; GatewayTests drives the same code over TCP.

func parse(_ line: String) throws -> TextCommand? {
    try TextCommand.parse(line)
}

/// The refusal a line gets, or nil if it parses.
func refusal(_ line: String) -> TextCommandError? {
    do {
        _ = try TextCommand.parse(line)
        return nil
    } catch {
        return error
    }
}

/// Reads a serialized answer back the way a client does: split at CRLF, stop at the lone `.`,
/// strip one leading `.` from body lines.
func readBack(_ wire: String) -> (status: String, body: [String], rest: String) {
    var lines = wire.components(separatedBy: "\r\n")[...]
    let status = lines.popFirst() ?? ""
    var body: [String] = []
    while let line = lines.popFirst() {
        if line == "." { break }
        body.append(line.hasPrefix(".") ? String(line.dropFirst()) : line)
    }
    return (status, body, lines.joined(separator: "\r\n"))
}

func jsonObject(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}

let sampleContent = RecordContent(
    film: "La La Land", year: 2016, director: "Damien Chazelle", subject: "epilogue",
    reading: "The montage is a \"what if\".\n.A second line starting with a dot.",
    source: "Damien Chazelle, interview", sourceKind: .director, themes: ["what-if", "sacrifice"])

let sampleRecord = Record(id: "la-la-land/what-if", content: sampleContent, version: 3, updatedAt: 1_700_000_000_123)
