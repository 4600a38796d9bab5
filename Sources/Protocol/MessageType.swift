/// The message type byte. Requests (client → server) are below 0x80, responses at or above.
public enum MessageType: UInt8, Sendable, CaseIterable {
    // Handshake
    case hello = 0x01
    case authenticate = 0x02
    case challenge = 0x81
    case ready = 0x82
    // Requests
    case ping = 0x10
    case get = 0x11
    case put = 0x12
    case delete = 0x13
    case query = 0x14
    case search = 0x15
    case listFilms = 0x16
    case listThemes = 0x17
    case stats = 0x18
    case getDictionary = 0x19
    case export = 0x1A
    case `import` = 0x1B
    case backup = 0x1C
    case track = 0x1D
    // Responses
    case pong = 0x90
    case record = 0x91
    case written = 0x92
    case deleted = 0x93
    case hit = 0x94
    case resultEnd = 0x95
    case films = 0x96
    case themes = 0x97
    case statsResult = 0x98
    case dictionary = 0x99
    case imported = 0x9A
    case backupChunk = 0x9B
    case backupEnd = 0x9C
    case tracking = 0x9D
    /// Unsolicited (request id 0): records that changed, to a connection that sent TRACK.
    case invalidate = 0x9E
    case error = 0xFF

    public var isRequest: Bool { rawValue < 0x80 }

    /// A stable lower-case name for logs and metric labels.
    public var name: String { String(describing: self) }
}
