import Foundation
import NIOConcurrencyHelpers

/// `--port-file PATH`: once a listener is bound, the process (re)writes PATH with one
/// `name=port` line per listener bound so far (`port=…`, then `metrics_port=…`), atomically
/// (temporary file + rename). With `--port 0` this is how a supervisor or a test learns the port
/// the kernel picked, without picking a "free" port first and racing another process for it.
public final class PortFile: Sendable {
    public let path: String
    private let entries = NIOLockedValueBox<[(String, Int)]>([])

    public init(path: String) {
        self.path = path
    }

    public func record(_ name: String, port: Int) {
        entries.withLockedValue { entries in
            entries.removeAll { $0.0 == name }
            entries.append((name, port))
            let text = entries.map { "\($0.0)=\($0.1)\n" }.joined()
            let temporary = path + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) {
                _ = rename(temporary, path)
            }
        }
    }
}
