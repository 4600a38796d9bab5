import EpilogueProtocol
import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import EpilogueGateway
@testable import EpilogueStorage
@testable import EpilogueStore

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
