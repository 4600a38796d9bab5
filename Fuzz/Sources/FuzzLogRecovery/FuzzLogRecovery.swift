import EpilogueStorage
import FuzzDriver

/// Arbitrary bytes as the entries of a record log: recovery reads entry after entry until the
/// bytes end or one is torn or corrupt. Every entry read must re-encode and read back equal.
@main
enum FuzzLogRecovery {
    static func main() {
        runLibFuzzer { bytes in
            var offset = 0
            while offset < bytes.count {
                guard case .entry(let entry, let length) = LogEntry.read(UnsafeRawBufferPointer(rebasing: bytes[offset...])) else { break }
                let encoded = entry.encoded()
                let reread = encoded.withUnsafeBytes { LogEntry.read($0) }
                precondition(reread == .entry(entry, size: encoded.count), "log entry did not survive a round trip")
                offset += length
            }
        }
    }
}
