import EpilogueProtocol
import EpilogueModel
import NIOCore

/// One kind of store request and how every frame of its answer becomes `Answer`, a domain value.
/// The store's ERROR answer never reaches `decode`: `StoreClient` throws it as
/// `StoreClientError.refused` first. Anything else unexpected is a `protocolError`.
public struct StoreRequest<Answer: Sendable>: Sendable {
    let message: ClientMessage
    let decode: @Sendable ([ServerMessage], RecordInflater) throws(StoreClientError) -> Answer
    /// How the record cache takes part (`StoreClient.send`): nil for requests it ignores.
    let cacheUse: RecordCacheUse<Answer>?

    init(message: ClientMessage, cacheUse: RecordCacheUse<Answer>? = nil,
         decode: @escaping @Sendable ([ServerMessage], RecordInflater) throws(StoreClientError) -> Answer) {
        self.message = message
        self.cacheUse = cacheUse
        self.decode = decode
    }

    /// The request's type, for messages and logs.
    public var type: MessageType { message.type }
}

/// A request the record cache serves or must hear of (PROTOCOL.md "Tracking", client rules).
enum RecordCacheUse<Answer: Sendable>: Sendable {
    /// A GET of `id`: answered from the cache on a hit, its answer kept on a miss.
    case read(id: String, answer: @Sendable (Record) -> Answer, record: @Sendable (Answer) -> Record)
    /// A write of these ids: their cached copies are dropped when it is sent and when it is answered.
    case write(ids: [String])
}

extension StoreRequest {
    /// What every frame of the answer says: the store's ERROR as `.refused`, else the decoded
    /// answer (record bodies inflated with `inflater`, which must hold their dictionaries).
    func answer(from answers: [ServerMessage], inflater: RecordInflater) throws(StoreClientError) -> Answer {
        if let refusal = storeRefusal(in: answers) { throw refusal }
        return try decode(answers, inflater)
    }
}

/// The store's ERROR, when it ended the answer (in place of the answer or of a stream's end).
func storeRefusal(in answers: [ServerMessage]) -> StoreClientError? {
    switch answers.last {
    case .error(let code, let message)?: return .refused(code: code, message: message)
    case .versionUnsupported(_, let message)?: return .refused(code: .versionUnsupported, message: message)
    default: return nil
    }
}

/// A page of FIND's records.
public struct RecordPage: Sendable, Equatable {
    public var records: [Record]
    /// How many records match, over all pages.
    public var total: Int
}

/// A page of SEARCH's hits.
public struct SearchResultPage: Sendable, Equatable {
    public var hits: [SearchHit]
    /// How many records match, over all pages.
    public var total: Int
    /// With no match: the closest indexed word to each unknown query word. With `fuzzy`, the
    /// words the store searched with instead.
    public var suggestions: [String]
}

extension StoreRequest {
    private static func unexpected(_ message: ClientMessage, _ answers: [ServerMessage]) -> StoreClientError {
        .protocolError("unexpected answer to \(message.type): \(answers.map { "\($0.type)" }.joined(separator: ", "))")
    }

    /// A request answered by one frame, which `match` turns into the answer (nil: unexpected).
    fileprivate static func single(_ message: ClientMessage, cacheUse: RecordCacheUse<Answer>? = nil,
                                   _ match: @escaping @Sendable (ServerMessage) -> Answer?) -> Self {
        StoreRequest(message: message, cacheUse: cacheUse) { answers, _ throws(StoreClientError) in
            guard answers.count == 1, let answer = match(answers[0]) else { throw unexpected(message, answers) }
            return answer
        }
    }
}

extension StoreRequest where Answer == Void {
    public static func ping(_ payload: String = "") -> Self {
        single(.ping(ByteBuffer(string: payload))) { if case .pong = $0 { return () } else { return nil } }
    }
}

extension StoreRequest where Answer == Record {
    public static func get(id: String) -> Self {
        StoreRequest(message: .get(id: id), cacheUse: .read(id: id, answer: { $0 }, record: { $0 })) { answers, inflater throws(StoreClientError) in
            guard answers.count == 1, case .record(let wire) = answers[0] else { throw unexpected(.get(id: id), answers) }
            return try inflater.record(from: wire)
        }
    }
}

extension StoreRequest where Answer == RecordPage {
    public static func find(_ filter: RecordFilter, limit: Int, offset: Int = 0) -> Self {
        let message = ClientMessage.query(filter, limit: UInt32(clamping: limit), offset: UInt32(clamping: offset))
        return StoreRequest(message: message) { answers, inflater throws(StoreClientError) in
            let (records, end) = try streamedRecords(answers, inflater, message)
            guard case .resultEnd(_, let total, _) = end else { throw unexpected(message, answers) }
            return RecordPage(records: records, total: Int(total))
        }
    }
}

extension StoreRequest where Answer == [Record] {
    /// Every live record matching `filter`, in id order, as of one moment (PROTOCOL.md, EXPORT).
    public static func export(_ filter: RecordFilter) -> Self {
        StoreRequest(message: .export(filter)) { answers, inflater throws(StoreClientError) in
            let (records, end) = try streamedRecords(answers, inflater, .export(filter))
            guard case .resultEnd = end else { throw unexpected(.export(filter), answers) }
            return records
        }
    }
}

/// The RECORD frames of a stream, inflated, and the frame that ended it.
private func streamedRecords(_ answers: [ServerMessage], _ inflater: RecordInflater,
                             _ message: ClientMessage) throws(StoreClientError) -> ([Record], ServerMessage?) {
    var records: [Record] = []
    records.reserveCapacity(answers.count)
    for answer in answers.dropLast() {
        guard case .record(let wire) = answer else {
            throw .protocolError("unexpected \(answer.type) in the answer to \(message.type)")
        }
        records.append(try inflater.record(from: wire))
    }
    return (records, answers.last)
}

extension StoreRequest where Answer == SearchResultPage {
    public static func search(_ text: String, _ filter: RecordFilter = RecordFilter(), limit: Int, offset: Int = 0,
                              fuzzy: Bool = false) -> Self {
        let message = ClientMessage.search(text: text, filter, limit: UInt32(clamping: limit), offset: UInt32(clamping: offset), fuzzy: fuzzy)
        return StoreRequest(message: message) { answers, _ throws(StoreClientError) in
            var hits: [SearchHit] = []
            hits.reserveCapacity(answers.count)
            for answer in answers.dropLast() {
                guard case .hit(let hit) = answer else { throw unexpected(message, answers) }
                hits.append(hit)
            }
            guard case .resultEnd(_, let total, let suggestions)? = answers.last else { throw unexpected(message, answers) }
            return SearchResultPage(hits: hits, total: Int(total), suggestions: suggestions)
        }
    }
}

extension StoreRequest where Answer == (version: UInt64, updatedAt: Int64) {
    /// Writes `content` as the next version of `id` (only if its version is `expectedVersion`, when given).
    public static func put(id: String, content: RecordContent, expectedVersion: UInt64? = nil) -> Self {
        single(.put(id: id, content: content, expectedVersion: expectedVersion), cacheUse: .write(ids: [id])) {
            if case .written(_, let version, let updatedAt) = $0 { return (version, updatedAt) } else { return nil }
        }
    }
}

extension StoreRequest where Answer == UInt64 {
    /// Deletes `id`; the answer is the version it had.
    public static func delete(id: String, expectedVersion: UInt64? = nil) -> Self {
        single(.delete(id: id, expectedVersion: expectedVersion), cacheUse: .write(ids: [id])) { if case .deleted(_, let version) = $0 { return version } else { return nil } }
    }
}

extension StoreRequest where Answer == [FilmSummary] {
    public static var films: Self {
        single(.listFilms) { if case .films(let films) = $0 { return films } else { return nil } }
    }
}

extension StoreRequest where Answer == [ThemeCount] {
    public static func themes(film: String? = nil) -> Self {
        single(.listThemes(film: film)) { if case .themes(let themes) = $0 { return themes } else { return nil } }
    }
}

extension StoreRequest where Answer == [StatEntry] {
    public static var stats: Self {
        single(.stats) { if case .stats(let entries) = $0 { return entries } else { return nil } }
    }
}

extension StoreRequest where Answer == ImportCounts {
    /// Applies `items` all or nothing (PROTOCOL.md, IMPORT).
    public static func `import`(_ existing: ImportExisting, _ items: [ImportItem]) -> Self {
        single(.import(existing, items), cacheUse: .write(ids: items.map(\.id))) {
            guard case .imported(let written, let skipped, let replaced) = $0, replaced <= written else { return nil }
            return ImportCounts(new: Int(written - replaced), replaced: Int(replaced), skipped: Int(skipped))
        }
    }
}

extension StoreRequest where Answer == [UInt8] {
    static func dictionary(id: UInt32) -> Self {
        single(.getDictionary(id: id)) {
            if case .dictionary(let answered, let bytes) = $0, answered == id { return bytes } else { return nil }
        }
    }
}
