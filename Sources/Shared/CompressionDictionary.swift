import Foundation

/// A zlib preset dictionary. Records are small, and small inputs compress poorly alone: with a
/// dictionary of typical record text, zlib can refer back to it from the first byte.
///
/// Dictionaries are versioned and never change once released — every stored record names the id
/// of the dictionary it was compressed with. A new dictionary gets a new id; old ones stay here.
public struct CompressionDictionary: Sendable {
    public let id: UInt32
    public let bytes: [UInt8]

    /// The dictionary new writes use.
    public static let current: CompressionDictionary = v1

    /// Built by `scripts/build-dictionary.py` from the bundled dataset.
    public static let v1 = CompressionDictionary(id: 1, bytes: Array(Data(base64Encoded: CompressionDictionaryV1.base64)!))

    public static let all: [CompressionDictionary] = [v1]

    public static func byID(_ id: UInt32) -> CompressionDictionary? {
        all.first { $0.id == id }
    }
}

/// How record bodies are packed: zlib with the current preset dictionary.
public enum BodyCompression {
    public static func compress(_ body: [UInt8]) throws -> (dictionaryID: UInt32, bytes: [UInt8]) {
        let dictionary = CompressionDictionary.current
        return (dictionary.id, try Zlib.compress(body, dictionary: dictionary.bytes, level: 9))
    }

    public static func decompress(_ bytes: [UInt8], dictionaryID: UInt32, limit: Int = 1 << 20) throws -> [UInt8] {
        if dictionaryID == 0 { return try Zlib.decompress(bytes, limit: limit) }
        guard let dictionary = CompressionDictionary.byID(dictionaryID) else { throw ZlibError.dictionaryMismatch }
        return try Zlib.decompress(bytes, dictionary: dictionary.bytes, limit: limit)
    }
}
