/// When a store trains a compression dictionary on its own records: once it holds `firstAt` live
/// records, and again each time the live count has grown `growth`-fold since the last training,
/// until a dictionary was trained on `stopAfter` records (more samples stop paying off).
public struct DictionaryPolicy: Sendable, Equatable {
    public var firstAt: Int
    public var growth: Int
    public var stopAfter: Int
    /// Bytes of record bodies the trainer samples (spread over all live records).
    public var sampleBytes: Int

    public init(firstAt: Int = 1_000, growth: Int = 10, stopAfter: Int = 1_000_000, sampleBytes: Int = 4 << 20) {
        self.firstAt = firstAt
        self.growth = growth
        self.stopAfter = stopAfter
        self.sampleBytes = sampleBytes
    }

    /// Whether to train now, given the live records and those the newest dictionary saw (0: none).
    public func isDue(liveRecords: Int, trainedOn: Int) -> Bool {
        if trainedOn == 0 { return liveRecords >= firstAt }
        return trainedOn < stopAfter && liveRecords >= trainedOn * growth
    }
}
