import EpilogueCompression

extension BodyCompression {
    /// Level 9 with the shipped dictionary: how every body was packed before stores trained their
    /// own dictionaries. Only the compression bench still measures it, as a baseline.
    static func compress(_ body: [UInt8]) throws -> (dictionaryID: UInt32, bytes: [UInt8]) {
        let dictionary = CompressionDictionary.current
        return (dictionary.id, try Zlib.compress(body, dictionary: dictionary.bytes, level: 9))
    }
}
