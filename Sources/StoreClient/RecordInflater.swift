import EpilogueProtocol
import EpilogueCompression
import EpilogueModel
import NIOConcurrencyHelpers
import NIOCore

/// Turns RECORD frames into records: the client side of PROTOCOL.md §2.4 "Who inflates". The
/// store sends a body as it keeps it (a zlib stream with dictionary 1, raw deflate with a trained
/// dictionary 1000+) when the client announced that dictionary, else plain. This holds the
/// dictionaries: the built-in ones from the start, trained ones once fetched with GET_DICTIONARY
/// (their bytes never change for an id, so a fetched one is kept for good).
final class RecordInflater: Sendable {
    private struct State {
        /// By id; a `DictionaryInflater` checks a zlib body's dictionary against an Adler-32
        /// computed once, not once per record (docs/PERFORMANCE.md, "Compression that costs little").
        var dictionaries: [UInt32: Zlib.DictionaryInflater]
        /// Trained ids some READY listed: announced from the next handshake on (as the Python client does).
        var listedByStore: Set<UInt32> = []
    }

    /// Bodies are at most a frame; a body inflating past this is damaged, not a record.
    static let maximumBodyBytes = 1 << 20

    private let state: NIOLockedValueBox<State>
    /// Trained ids to announce even before any READY listed them (a client that knows the store).
    private let alsoAnnounced: [UInt32]

    init(alsoAnnounced: [UInt32] = []) {
        var builtIn: [UInt32: Zlib.DictionaryInflater] = [:]
        for dictionary in CompressionDictionary.all { builtIn[dictionary.id] = Zlib.DictionaryInflater(dictionary: dictionary.bytes) }
        self.state = NIOLockedValueBox(State(dictionaries: builtIn))
        self.alsoAnnounced = alsoAnnounced
    }

    /// The dictionary ids a pool connection's HELLO announces: `Hello.anyDictionary`, so the store
    /// sends every body as stored, even one made with a dictionary it trains after the handshake
    /// (`StoreClient` fetches a dictionary a RECORD needs before inflating it, see
    /// `missingDictionaries`), and the explicit ids, for a store from before "any".
    var announced: [UInt32] { announcedExplicitly + [Hello.anyDictionary] }

    /// The built-in ids, the trained ones an earlier READY listed, and `alsoAnnounced`: what an
    /// EXPORT stream announces, since it inflates each record as it comes and cannot stop to fetch
    /// a dictionary (the store inflates bodies of one trained during the stream).
    var announcedExplicitly: [UInt32] {
        let listed = state.withLockedValue { $0.listedByStore }
        return Array(Set(CompressionDictionary.all.map(\.id)).union(listed).union(alsoAnnounced)).sorted()
    }

    /// What a READY listed.
    func storeListed(_ ids: [UInt32]) {
        state.withLockedValue { $0.listedByStore.formUnion(ids) }
    }

    /// Dictionaries the compressed records among `answers` need and this does not hold yet.
    func missingDictionaries(in answers: [ServerMessage]) -> [UInt32] {
        state.withLockedValue { state in
            var missing: Set<UInt32> = []
            for case .record(let wire) in answers where wire.encoding != .plain && wire.dictionaryID != 0
                && state.dictionaries[wire.dictionaryID] == nil {
                missing.insert(wire.dictionaryID)
            }
            return missing.sorted()
        }
    }

    /// Those of `ids` this does not hold yet (to fetch before a stream that may use them).
    func unheld(_ ids: [UInt32]) -> [UInt32] {
        state.withLockedValue { state in ids.filter { state.dictionaries[$0] == nil } }
    }

    func add(dictionaryID: UInt32, bytes: [UInt8]) {
        let inflater = Zlib.DictionaryInflater(dictionary: bytes)
        state.withLockedValue { $0.dictionaries[dictionaryID] = inflater }
    }

    /// The record a RECORD frame carries, its body inflated and decoded.
    func record(from wire: WireRecord) throws(StoreClientError) -> Record {
        do {
            let body: ByteBuffer
            switch wire.encoding {
            case .plain:
                body = wire.body
            case .zlib, .deflate:
                let raw = wire.encoding == .deflate
                let limit = Self.maximumBodyBytes
                if wire.dictionaryID == 0 {
                    body = ByteBuffer(bytes: try Zlib.decompress(Array(buffer: wire.body), limit: limit, raw: raw))
                } else {
                    guard let inflater = state.withLockedValue({ $0.dictionaries[wire.dictionaryID] }) else {
                        throw StoreClientError.protocolError("record '\(wire.id)' needs dictionary \(wire.dictionaryID), which this client does not have")
                    }
                    body = ByteBuffer(bytes: try inflater.decompress(Array(buffer: wire.body), limit: limit, raw: raw))
                }
            }
            return Record(id: wire.id, content: try RecordBody.decode(body), version: wire.version, updatedAt: wire.updatedAt)
        } catch let error as StoreClientError {
            throw error
        } catch {
            throw .protocolError("record '\(wire.id)': \(error)")
        }
    }
}
