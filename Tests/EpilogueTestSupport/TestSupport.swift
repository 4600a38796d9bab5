import EpilogueProtocol
import EpilogueModel
import EpilogueServerKit
import Foundation
import Logging
import NIOCore
import NIOPosix
@testable import EpilogueStorage
@testable import EpilogueStore

public enum TestSupport {
    public static let logger: Logger = {
        var logger = Logger(label: "epilogue.test")
        logger.logLevel = .critical
        return logger
    }()

    /// A fresh directory under the system temp dir, removed by the caller via `removeDirectory`.
    public static func temporaryDirectory(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = FileManager.default.temporaryDirectory.path + "/epilogue-test-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func removeDirectory(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    public static func openStore(_ directory: String, fsync: FsyncPolicy = .always, dataset: Bool = false) async throws -> RecordStore {
        try await RecordStore(configuration: .init(dataDirectory: directory, fsync: fsync, loadBundledDataset: dataset), logger: logger)
    }

    public static func content(film: String = "La La Land", subject: String = "epilogue", reading: String = "A what-if montage of the life they gave up.",
                        kind: SourceKind = .critic, themes: [String] = ["what-if"]) -> RecordContent {
        RecordContent(film: film, year: film == "La La Land" ? 2016 : 2024, director: film == "La La Land" ? "Damien Chazelle" : "Jesse Eisenberg",
                      subject: subject, reading: reading, source: "A critic, somewhere", sourceKind: kind, themes: themes)
    }
}
