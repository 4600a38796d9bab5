/// Strips telnet IAC sequences from a byte stream, keeping state across chunks so a sequence
/// split between two reads is still removed. What remains is the data the user typed.
///
/// IAC (255) x: two-byte command (e.g. IAC IP, what telnet sends for Ctrl-C).
/// IAC WILL/WONT/DO/DONT (251-254) option: three bytes.
/// IAC SB ... IAC SE: subnegotiation, skipped whole. IAC IAC: a literal 255.
struct TelnetFilter {
    static let iac: UInt8 = 255
    private static let se: UInt8 = 240
    private static let sb: UInt8 = 250

    private enum State {
        case data
        case command      // after IAC
        case option       // after IAC WILL/WONT/DO/DONT
        case subnegotiation
        case subnegotiationIAC
    }

    private var state = State.data

    var isInsideSequence: Bool {
        if case .data = state { return false }
        return true
    }

    mutating func filter(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            switch state {
            case .data:
                if byte == Self.iac { state = .command } else { out.append(byte) }
            case .command:
                switch byte {
                case Self.iac: out.append(Self.iac); state = .data
                case 251...254: state = .option
                case Self.sb: state = .subnegotiation
                default: state = .data
                }
            case .option:
                state = .data
            case .subnegotiation:
                if byte == Self.iac { state = .subnegotiationIAC }
            case .subnegotiationIAC:
                state = byte == Self.se ? .data : .subnegotiation
            }
        }
        return out
    }
}
