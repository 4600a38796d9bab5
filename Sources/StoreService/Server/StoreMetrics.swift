import EpilogueProtocol
import Metrics

/// The store's metrics (names documented in docs/OPERATIONS.md).
struct StoreMetrics: Sendable {
    let connections = Gauge(label: "epilogue_store_open_connections")
    let records = Gauge(label: "epilogue_store_records")
    let rawBytes = Gauge(label: "epilogue_store_raw_bytes")
    let storedBytes = Gauge(label: "epilogue_store_stored_bytes")
    let logBytes = Gauge(label: "epilogue_store_log_bytes")

    func served(_ type: MessageType, frames: [Frame], nanoseconds: Int64) {
        Counter(label: "epilogue_store_requests_total", dimensions: [("type", type.name)]).increment()
        Timer(label: "epilogue_store_request_duration_seconds", dimensions: [("type", type.name)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(nanoseconds)
        if let last = frames.last, last.type == MessageType.error.rawValue, case .error(let code, _)? = try? ServerMessage(frame: last) {
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
