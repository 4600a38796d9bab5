import EpilogueStorage
import EpilogueProtocol
import Metrics
import EpilogueServerKit

/// The store's metrics (names documented in docs/OPERATIONS.md).
struct StoreMetrics: Sendable {
    let connections = Gauge(label: "epilogue_store_open_connections")
    let records = Gauge(label: "epilogue_store_records")
    let rawBytes = Gauge(label: "epilogue_store_raw_bytes")
    let storedBytes = Gauge(label: "epilogue_store_stored_bytes")
    let logBytes = Gauge(label: "epilogue_store_log_bytes")
    /// Connections that sent TRACK 1 (PROTOCOL.md, "Tracking").
    let trackingConnections = Gauge(label: "epilogue_store_tracking_connections")
    /// Ids pushed in INVALIDATE frames, over all tracking connections (an empty INVALIDATE counts 1).
    let invalidationsPushed = Counter(label: "epilogue_store_invalidations_pushed_total")

    private struct Instruments {
        var requests: Counter
        var duration: Timer
    }

    private let instruments = InstrumentCache<UInt8, Instruments>()

    func served(_ type: MessageType, frames: [Frame], nanoseconds: Int64) {
        let instrument = instruments.instrument(for: type.rawValue) {
            Instruments(
                requests: Counter(label: "epilogue_store_requests_total", dimensions: [("type", type.name)]),
                duration: Timer(label: "epilogue_store_request_duration_seconds", dimensions: [("type", type.name)], preferredDisplayUnit: .seconds))
        }
        instrument.requests.increment()
        instrument.duration.recordNanoseconds(nanoseconds)
        if let last = frames.last, last.type == MessageType.error.rawValue, let code = (try? ServerMessage(frame: last))?.errorCode {
            Counter(label: "epilogue_store_errors_total", dimensions: [("code", code.name)]).increment()
        }
    }

    func update(_ figures: RecordStore.Figures) {
        records.record(figures.records)
        rawBytes.record(figures.rawBytes)
        storedBytes.record(figures.storedBytes)
        logBytes.record(figures.logBytes)
    }
}
