// A backup's list of files: what the store's backup ends with, what its manifest holds, and what
// BACKUP_END carries.

/// One file of a BACKUP as BACKUP_END lists it: its whole length and CRC-32.
public struct BackupFile: Sendable, Equatable {
    public var name: String
    public var length: UInt64
    public var crc32: UInt32

    public init(name: String, length: UInt64, crc32: UInt32) {
        self.name = name
        self.length = length
        self.crc32 = crc32
    }
}
