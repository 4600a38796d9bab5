import Foundation
import EpilogueShared

/// A zlib preset dictionary. Records are small, and small inputs compress poorly alone: with a
/// dictionary of typical record text, zlib can refer back to it from the first byte.
///
/// Dictionaries are versioned and never change once released — every stored record names the id
/// of the dictionary it was compressed with. A new dictionary gets a new id; old ones stay here.
public struct CompressionDictionary: Sendable {
    public let id: UInt32
    public let bytes: [UInt8]

    public init(id: UInt32, bytes: [UInt8]) {
        self.id = id
        self.bytes = bytes
    }

    /// The dictionary new writes use.
    public static let current: CompressionDictionary = v1

    /// Built by `scripts/build-dictionary.py` from the bundled dataset.
    public static let v1 = CompressionDictionary(id: 1, bytes: Array(Data(base64Encoded: CompressionDictionaryV1.base64)!))

    public static let all: [CompressionDictionary] = [v1]

    public static func byID(_ id: UInt32) -> CompressionDictionary? {
        all.first { $0.id == id }
    }
}

/// How a compressed record body is inflated: dictionary id 0 means none; ids from
/// `DictionarySet.firstTrainedID` up are raw deflate.
public enum BodyCompression {
    /// With the built-in dictionaries only (what a client knows without asking the store).
    public static func decompress(_ bytes: [UInt8], dictionaryID: UInt32, limit: Int = 1 << 20) throws -> [UInt8] {
        try builtIn.decompress(bytes, dictionaryID: dictionaryID, limit: limit)
    }

    /// The built-in dictionaries' inflaters, shared by every caller in the process.
    private static let builtIn = DictionarySet()
}

/// The dictionaries one store compresses and inflates with: the built-in ones plus those trained
/// on its own records (ids from `firstTrainedID` up, so they never collide with built-in ones).
/// New bodies use the newest. Per store, not global: two stores in one process (tests, benches)
/// each have their own trained dictionary 1000.
public final class DictionarySet: Sendable {
    public static let firstTrainedID: UInt32 = 1000

    /// A dictionary with its inflater (which knows the dictionary's id).
    private struct Known: Sendable {
        var dictionary: CompressionDictionary
        var inflater: Zlib.DictionaryInflater
    }

    private struct Contents: Sendable {
        var byID: [UInt32: Known]
        var newest: CompressionDictionary
        /// Primed with `newest`; the only deflater kept, since only new writes compress.
        var deflater: Zlib.PrimedDeflater
    }
    private let contents: Locked<Contents>

    public init(trained: [CompressionDictionary] = []) {
        var byID: [UInt32: Known] = [:]
        for dictionary in CompressionDictionary.all + trained { byID[dictionary.id] = Self.known(dictionary) }
        let newest = trained.max { $0.id < $1.id } ?? CompressionDictionary.current
        contents = Locked(Contents(byID: byID, newest: newest, deflater: Self.deflater(for: newest)))
    }

    /// The dictionary new writes use.
    public var newest: CompressionDictionary { contents.withLock { $0.newest } }

    public func dictionary(id: UInt32) -> CompressionDictionary? { contents.withLock { $0.byID[id]?.dictionary } }

    /// The trained dictionaries, oldest first.
    public var trained: [CompressionDictionary] {
        contents.withLock { $0.byID.values.map(\.dictionary).filter { $0.id >= Self.firstTrainedID }.sorted { $0.id < $1.id } }
    }

    /// The id the next trained dictionary gets.
    public var nextTrainedID: UInt32 { (trained.last?.id).map { $0 + 1 } ?? Self.firstTrainedID }

    /// Adds a dictionary; from now on new writes use it. It must already be durable wherever the
    /// caller keeps dictionaries.
    public func add(_ dictionary: CompressionDictionary) {
        // Priming hashes the dictionary (~30 µs): done before taking the lock.
        let (known, deflater) = (Self.known(dictionary), Self.deflater(for: dictionary))
        contents.withLock {
            $0.byID[dictionary.id] = known
            if dictionary.id > $0.newest.id { ($0.newest, $0.deflater) = (dictionary, deflater) }
        }
    }

    /// Bodies of trained dictionaries are raw deflate (RFC 1951): they never leave the store
    /// compressed, the log entry names the dictionary and its CRC-32 covers the body, so the zlib
    /// header with its dictionary id and the Adler-32 trailer would only cost 10 bytes a record.
    static func isRawDeflate(_ dictionaryID: UInt32) -> Bool { dictionaryID >= firstTrainedID }

    /// Level 6, not 9: on ~1.2 KB prose records with a 32 KiB dictionary it stores within half a
    /// percent of level 9 at about four fifths of the CPU, and this runs on every PUT.
    public static let level: Int32 = 6

    public func compress(_ body: [UInt8]) throws -> (dictionaryID: UInt32, bytes: [UInt8]) {
        let (id, deflater) = contents.withLock { ($0.newest.id, $0.deflater) }
        return (id, try deflater.compress(body))
    }

    public func decompress(_ bytes: [UInt8], dictionaryID: UInt32, limit: Int = 1 << 20) throws -> [UInt8] {
        if dictionaryID == 0 { return try Zlib.decompress(bytes, limit: limit) }
        guard let inflater = contents.withLock({ $0.byID[dictionaryID]?.inflater }) else { throw ZlibError.dictionaryMismatch }
        return try inflater.decompress(bytes, limit: limit, raw: Self.isRawDeflate(dictionaryID))
    }

    private static func known(_ dictionary: CompressionDictionary) -> Known {
        Known(dictionary: dictionary, inflater: Zlib.DictionaryInflater(dictionary: dictionary.bytes))
    }

    // zlib refuses to set up a stream only for invalid parameters or when out of memory, and
    // these parameters are fixed and the stream's allocator traps rather than fail.
    private static func deflater(for dictionary: CompressionDictionary) -> Zlib.PrimedDeflater {
        do { return try Zlib.PrimedDeflater(dictionary: dictionary.bytes, level: level, raw: isRawDeflate(dictionary.id)) } catch {
            preconditionFailure("zlib refused to prime a deflate stream: \(error)")
        }
    }
}
