// What an IMPORT batch carries: domain values the store applies and the wire protocol (IMPORT)
// and the JSON-lines importer reuse.

/// One record of an IMPORT batch.
public struct ImportItem: Sendable, Equatable {
    /// Where it came from (a line of the client's file), named when the store refuses it.
    public var line: UInt32
    public var id: String
    public var content: RecordContent
    /// Compare-and-set, as PUT's.
    public var expectedVersion: UInt64?
    /// Write exactly this version (a restore keeps an export's versions); it must be above the
    /// id's last version. Absent: the next version, as PUT.
    public var version: UInt64?
    /// Keep this `updated_at` (ms since the epoch); absent: now.
    public var updatedAt: Int64?

    public init(line: UInt32, id: String, content: RecordContent, expectedVersion: UInt64? = nil, version: UInt64? = nil, updatedAt: Int64? = nil) {
        self.line = line
        self.id = id
        self.content = content
        self.expectedVersion = expectedVersion
        self.version = version
        self.updatedAt = updatedAt
    }
}

/// What IMPORT does with an id that already holds a live record.
public enum ImportExisting: UInt8, Sendable {
    case replace = 0
    case skip = 1
}

/// What an IMPORT did with its items (one batch's, or a whole import's): `new` ids written,
/// `replaced` live records written over (already in the store, or earlier in the same import),
/// and `skipped` items left out because their id held a live record (`ImportExisting.skip`).
public struct ImportCounts: Sendable, Equatable {
    public var new: Int
    public var replaced: Int
    public var skipped: Int

    /// Records written: new ones and replacements.
    public var written: Int { new + replaced }

    public init(new: Int = 0, replaced: Int = 0, skipped: Int = 0) {
        self.new = new
        self.replaced = replaced
        self.skipped = skipped
    }

    public static func += (total: inout ImportCounts, batch: ImportCounts) {
        total.new += batch.new
        total.replaced += batch.replaced
        total.skipped += batch.skipped
    }

    /// "W records (N new, R replaced; S skipped as existing)", as both importers' summaries say it.
    public var summary: String {
        "\(written) \(written == 1 ? "record" : "records") (\(new) new, \(replaced) replaced; \(skipped) skipped as existing)"
    }
}
