import EpilogueShared
import EpilogueTestSupport
import Foundation
import Testing
@Suite(.timeLimit(.minutes(1))) struct StartupFailureTests {
    @Test func unwritableDataDirectoryIsAClearMessageAndANonZeroExit() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = try Unprivileged.prefix() + [try Unprivileged.executable("epilogue-store"),
                             "--data-dir", "/proc/epilogue-cannot-write-here", "--port", "0", "--metrics-port", "0"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        #expect(output.contains("epilogue-store: cannot use data directory '/proc/epilogue-cannot-write-here'"))
    }
}
