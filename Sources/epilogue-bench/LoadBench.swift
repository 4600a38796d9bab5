import ArgumentParser
import EpilogueBenchWire
import Foundation
import Histogram
import NIOCore
import NIOPosix

/// A closed-loop load generator: N connections × P pipelined requests, a warm-up, a measured
/// window, latency percentiles from an HDR histogram. Speaks Epilogue's text protocol, Redis and
/// memcached, so peers are measured with the same client. See docs/PERFORMANCE.md.
struct LoadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Closed-loop load against the gateway, Redis or memcached; prints a table and a RESULT {json} line.",
        discussion: """
            Templates: {id} (random line of --keyfile, or the drawn record's id), {query} (random line of \
            --queries), {record} (a random --corpus record as PUT arguments), {json} (its JSON bytes), \
            {jsonlen}; escapes \\r \\n \\t \\\\. Examples:
              load --port 7700 --cmd 'GET {id}' --keyfile ids.txt --conns 64
              load --port 7700 --cmd 'GET {id}' --cmd 'PUT {record}' --weights 90,10 --keyfile ids.txt --corpus c.jsonl
              load --protocol redis --port 6379 --cmd 'SET {id} {json}' --corpus c.jsonl
              load --protocol memcached --port 11211 --cmd 'get {id}' --keyfile ids.txt
            Exit status: 0 ok, 1 errors or broken connections in the run, 2 nothing completed.
            """)

    @Option(help: "Server address (loopback by default).") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int
    @Option(name: .customLong("protocol"), help: "text (Epilogue gateway), redis, memcached.") var framing: ReplyFraming = .text
    @Flag(help: "Redis: send inline commands instead of RESP arrays (not binary-safe).") var inline = false
    @Option(help: "Request template; repeat for a mix.") var cmd: [String]
    @Option(help: "Weights of the templates, e.g. 90,10 (default: equal).") var weights: String?
    @Option(help: "File of keys, one per line, for {id}.") var keyfile: String?
    @Option(help: "File of queries, one per line, for {query}.") var queries: String?
    @Option(help: "Corpus (bench/make-corpus.py JSON lines) for {record}, {json}, {jsonlen}.") var corpus: String?
    @Option(name: .customLong("corpus-records"), help: "Records taken from the start of --corpus.") var corpusRecords = 20_000
    @Option(help: "Connections.") var conns = 64
    @Option(help: "Requests in flight per connection.") var pipeline = 1
    @Option(help: "Unmeasured seconds first.") var warmup = 1.0
    @Option(help: "Measured seconds.") var duration = 5.0
    @Option(help: "Client event-loop threads.") var threads = 1
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(help: "A name for this run, copied into the RESULT line.") var label = ""
    @Flag(help: "Print only the RESULT line (and errors).") var quiet = false
    @Flag(help: "Send each --corpus record once, in order, then stop (loading); no warm-up, no fixed duration.")
    var once = false

    func validate() throws {
        guard conns > 0, pipeline > 0, threads > 0, duration > 0, warmup >= 0 else {
            throw ValidationError("--conns, --pipeline, --threads and --duration must be positive")
        }
    }

    func run() async throws {
        let templates = try cmd.map { try RequestTemplate($0) }
        let weightList = try weights.map { text in
            try text.split(separator: ",").map { part in
                guard let weight = Int(part), weight > 0 else { throw ValidationError("bad weight \(part)") }
                return weight
            }
        } ?? Array(repeating: 1, count: templates.count)
        guard weightList.count == templates.count else { throw ValidationError("\(templates.count) templates but \(weightList.count) weights") }
        let slots = templates.reduce(into: Set<RequestTemplate.Slot>()) { $0.formUnion($1.slots) }
        let keys = try keyfile.map(RequestSource.lines) ?? []
        let queryLines = try queries.map(RequestSource.lines) ?? []
        let records = try corpus.map { try RequestSource.records($0, limit: corpusRecords) } ?? []
        if once, corpus == nil { throw ValidationError("--once needs --corpus") }
        if templates.contains(where: \.drawsRecord), records.isEmpty { throw ValidationError("{record}/{json} need --corpus") }
        if templates.contains(where: { !$0.drawsRecord && $0.slots.contains(.id) }), keys.isEmpty {
            throw ValidationError("{id} needs --keyfile")
        }
        if slots.contains(.query), queryLines.isEmpty { throw ValidationError("{query} needs --queries") }
        let source = RequestSource(templates: templates, weights: weightList, keys: keys, queries: queryLines,
                                   records: records, resp: framing == .redis && !inline, once: once)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var handlers: [LoadConnection] = []
        var channels: [Channel] = []
        do {
            for index in 0..<conns {
                let handler = LoadConnection(source: source, framing: framing, pipeline: pipeline,
                                             seed: seed &* 0x1_0000_0001 &+ UInt64(index))
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                    .connectTimeout(.seconds(3))
                    .channelInitializer { channel in channel.pipeline.addHandler(handler) }
                    .connect(host: host, port: port).get()
                handlers.append(handler)
                channels.append(channel)
            }
        } catch {
            try? await group.shutdownGracefully()
            FileHandle.standardError.write(Data("epilogue-bench load: cannot connect to \(host):\(port): \(error)\n".utf8))
            throw ExitCode(2)
        }

        let startTime = monotonicNanoseconds()
        let window = once
            ? LoadWindow(warmupEnd: startTime, end: startTime + 86_400 * 1_000_000_000)
            : LoadWindow(warmupEnd: startTime + UInt64(warmup * 1e9), end: startTime + UInt64((warmup + duration) * 1e9))
        for (handler, channel) in zip(handlers, channels) {
            channel.eventLoop.execute { handler.start(window) }
        }
        var measured = duration
        if once {
            while true {
                try await Task.sleep(nanoseconds: 50_000_000)
                var allDone = true
                for (handler, channel) in zip(handlers, channels) where !(try await channel.eventLoop.submit { handler.finished }.get()) {
                    allDone = false
                    break
                }
                if allDone { break }
            }
            measured = Double(monotonicNanoseconds() - startTime) / 1e9
        } else {
            try await Task.sleep(nanoseconds: window.end - startTime + 20_000_000)
        }
        var tallies: [ConnectionTally] = []
        for (handler, channel) in zip(handlers, channels) {
            tallies.append(try await channel.eventLoop.submit { handler.tally }.get())
            channel.close(promise: nil)
        }
        try await group.shutdownGracefully()

        let summary = LoadSummary(tallies: tallies, duration: measured)
        let config = LoadConfig(label: label, protocol: framing.rawValue, host: host, port: port, cmd: cmd, weights: weightList,
                                conns: conns, pipeline: pipeline, warmup: once ? 0 : warmup, duration: measured, threads: threads)
        if !quiet { summary.printTable(config) }
        summary.printWarnings()
        print("RESULT " + summary.json(config))
        if summary.completed == 0 { throw ExitCode(2) }
        if summary.errors > 0 || !summary.connectionErrors.isEmpty { throw ExitCode(1) }
    }
}

extension ReplyFraming: ExpressibleByArgument {}

struct LoadConfig: Codable {
    var label: String
    var `protocol`: String
    var host: String
    var port: Int
    var cmd: [String]
    var weights: [Int]
    var conns: Int
    var pipeline: Int
    var warmup: Double
    var duration: Double
    var threads: Int
}

/// All connections' tallies merged: throughput, errors, percentiles.
struct LoadSummary {
    var completed = 0
    var errors = 0
    var empty = 0
    var perTemplate: [Int] = []
    var connectionErrors: [String] = []
    var firstErrorReply: String?
    var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    let duration: Double

    init(tallies: [ConnectionTally], duration: Double) {
        self.duration = duration
        for tally in tallies {
            completed += tally.completed
            errors += tally.errors
            empty += tally.empty
            if perTemplate.isEmpty { perTemplate = tally.perTemplate } else {
                for index in perTemplate.indices { perTemplate[index] += tally.perTemplate[index] }
            }
            if let error = tally.connectionError { connectionErrors.append(error) }
            if firstErrorReply == nil { firstErrorReply = tally.firstErrorReply }
            histogram.add(tally.histogram)
        }
    }

    var opsPerSecond: Double { Double(completed) / duration }

    /// Microseconds at a percentile (the histogram holds nanoseconds).
    func micros(_ percentile: Double) -> Double {
        completed == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1000
    }

    var percentiles: [(name: String, micros: Double)] {
        [("p50", micros(50)), ("p90", micros(90)), ("p99", micros(99)), ("p99.9", micros(99.9)),
         ("max", completed == 0 ? 0 : Double(histogram.max) / 1000)]
    }

    func printTable(_ config: LoadConfig) {
        print("epilogue-bench load  \(config.protocol) \(config.host):\(config.port)  \(config.conns) conns × \(config.pipeline)  "
              + "warm-up \(config.warmup) s, \(config.duration) s measured, \(config.threads) client thread(s)")
        for (index, cmd) in config.cmd.enumerated() {
            print("  cmd \(cmd)  (weight \(config.weights[index]), \(perTemplate.indices.contains(index) ? perTemplate[index] : 0) done)")
        }
        let header = ["ops/s", "errors", "empty"] + percentiles.map { "\($0.name) µs" }
        let row = [String(format: "%.0f", opsPerSecond), String(errors), String(empty)] + percentiles.map { String(format: "%.0f", $0.micros) }
        print(header.map { $0.leftPadded(11) }.joined())
        print(row.map { $0.leftPadded(11) }.joined())
    }

    /// Loud, on stderr and stdout: a run with errors is not a measurement of the happy path.
    func printWarnings() {
        var lines: [String] = []
        if errors > 0 {
            lines.append("!!! \(errors) ERROR REPLIES of \(completed) (\(String(format: "%.2f", Double(errors) * 100 / Double(max(1, completed)))) %)"
                         + (firstErrorReply.map { " — first: \($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(120))" } ?? ""))
        }
        if !connectionErrors.isEmpty {
            lines.append("!!! \(connectionErrors.count) CONNECTION(S) BROKE — first: \(connectionErrors[0])")
        }
        if empty > 0 { lines.append("note: \(empty) empty replies (nil / miss)") }
        if completed == 0 { lines.append("!!! NOTHING COMPLETED in the window") }
        for line in lines {
            print(line)
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func json(_ config: LoadConfig) -> String {
        struct Line: Encodable {
            var bench = "load"
            var config: LoadConfig
            var ops: Int
            var ops_per_s: Double
            var errors: Int
            var empty: Int
            var conn_errors: Int
            var per_cmd: [Int]
            var p50_us, p90_us, p99_us, p999_us, max_us, mean_us: Double
        }
        let p = percentiles.map { ($0.micros * 10).rounded() / 10 }
        let line = Line(config: config, ops: completed, ops_per_s: (opsPerSecond * 10).rounded() / 10, errors: errors, empty: empty,
                        conn_errors: connectionErrors.count, per_cmd: perTemplate,
                        p50_us: p[0], p90_us: p[1], p99_us: p[2], p999_us: p[3], max_us: p[4],
                        mean_us: completed == 0 ? 0 : (histogram.mean / 100).rounded() / 10)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(line)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self + " " : String(repeating: " ", count: width - count) + self
    }
}
