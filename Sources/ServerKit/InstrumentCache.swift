import NIOConcurrencyHelpers

/// Metric objects made once per label value and reused: making one per request goes through the
/// metrics factory's lookup, which takes a lock and showed in request profiles.
public final class InstrumentCache<Key: Hashable & Sendable, Instrument: Sendable>: Sendable {
    private let made = NIOLockedValueBox<[Key: Instrument]>([:])

    public init() {}

    public func instrument(for key: Key, make: () -> Instrument) -> Instrument {
        made.withLockedValue { made in
            if let known = made[key] { return known }
            let instrument = make()
            made[key] = instrument
            return instrument
        }
    }
}
