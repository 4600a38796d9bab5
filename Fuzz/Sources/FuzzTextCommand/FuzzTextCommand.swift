import EpilogueGateway
import FuzzDriver

/// Arbitrary bytes as a command line: the parser must answer a command, nothing, or an error.
@main
enum FuzzTextCommand {
    static func main() {
        runLibFuzzer { bytes in
            _ = try? TextCommand.parse(String(decoding: bytes, as: UTF8.self))
        }
    }
}
