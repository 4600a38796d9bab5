import Foundation
import Logging

public enum EpilogueLogging {
    /// Logs go to stderr, which is unbuffered even when redirected to a file.
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Reads an environment variable, so every flag has an env-var equivalent.
    public static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}

extension Logger.Level {
    public static let names = Logger.Level.allCases.map(\.rawValue).joined(separator: "|")
}
