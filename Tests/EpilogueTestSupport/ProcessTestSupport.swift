import EpilogueShared
import EpilogueStoreClient
import Foundation
import Synchronization
import Testing
// MARK: - Prerequisites: skipped with the reason in the output, or failed under EPILOGUE_REQUIRE_ALL_TESTS=1

/// Something a test needs from the machine that a plain `swift test` on a fresh machine may lack.
/// A suite that needs one carries `.requires(…)`: without it the suite is **skipped, and the
/// reason is printed** in the test output; with `EPILOGUE_REQUIRE_ALL_TESTS=1` (what
/// `scripts/test-all.sh` and `.ci/run` set) it runs anyway and its first line,
/// `try Prerequisite.check(…)`, fails it with the same reason.
public enum Prerequisite: String, CaseIterable, Sendable {
    case root, networkNamespaces, nftables, fuse, pyyaml, docker

    /// Set by scripts/test-all.sh: a missing prerequisite is a failure, not a skip.
    public static let requireAll = ProcessInfo.processInfo.environment["EPILOGUE_REQUIRE_ALL_TESTS"] == "1"

    public var isMet: Bool {
        switch self {
        case .root: Self.isRoot
        case .networkNamespaces: Self.hasNetworkNamespaces
        case .nftables: Self.hasNftables
        case .fuse: Self.hasFuse
        case .pyyaml: Self.hasPyYAML
        case .docker: Self.hasDocker
        }
    }

    public var reason: String {
        switch self {
        case .root: "needs root (tests run as uid \(getuid()))"
        case .networkNamespaces: "needs root and `ip netns` (apt iproute2) to create network namespaces"
        case .nftables: "needs nftables (apt nftables) to drop packets in a namespace"
        case .fuse: "needs /dev/fuse, fusermount3 and python3-fusepy (apt fuse3 python3-fusepy)"
        case .pyyaml: "needs python3 with PyYAML (apt python3-yaml)"
        case .docker: "needs a running Docker engine (apt docker.io, dockerd)"
        }
    }

    // Each evaluated once per test process, and only when a test asks.
    private static let isRoot = getuid() == 0
    private static let hasNetworkNamespaces: Bool = isRoot && executable("ip") != nil && {
        // Creating one is the only real check (a container may forbid it even to root).
        let name = "epi-probe-\(getpid())"
        defer { _ = run(["ip", "netns", "del", name]) }
        return run(["ip", "netns", "add", name]) == 0
    }()
    private static let hasNftables = executable("nft") != nil
    private static let hasFuse = FileManager.default.fileExists(atPath: "/dev/fuse") && executable("fusermount3") != nil
        && run(["/usr/bin/python3", "-c", "import fusepy"]) == 0
    private static let hasPyYAML = run(["python3", "-c", "import yaml"]) == 0 || run(["/usr/bin/python3", "-c", "import yaml"]) == 0
    private static let hasDocker = executable("docker") != nil && run(["timeout", "20", "docker", "info"]) == 0

    public static func executable(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a command (through /usr/bin/env), output discarded; its exit status, or -1.
    public static func run(_ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The reasons the given prerequisites are not met (empty when all are).
    public static func missing(_ prerequisites: [Prerequisite]) -> [String] {
        prerequisites.filter { !$0.isMet }.map(\.reason)
    }

    /// First line of a test that has prerequisites: under EPILOGUE_REQUIRE_ALL_TESTS=1 a missing
    /// one fails the test here (without the switch the `.requires` trait has skipped it already).
    public static func check(_ prerequisites: Prerequisite...) throws {
        let missing = missing(prerequisites)
        guard missing.isEmpty else {
            throw Missing(description: "prerequisite missing and EPILOGUE_REQUIRE_ALL_TESTS=1: " + missing.joined(separator: "; ")
                          + " (scripts/test-all.sh installs everything)")
        }
    }

    public struct Missing: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }
}

extension Trait where Self == ConditionTrait {
    /// Skips the test or suite, with the reasons as its comment (printed by `swift test`), when a
    /// prerequisite is missing — unless EPILOGUE_REQUIRE_ALL_TESTS=1, when it runs and
    /// `Prerequisite.check` fails it instead.
    public static func requires(_ prerequisites: Prerequisite...) -> Self {
        let missing = Prerequisite.missing(prerequisites)
        return .enabled(if: missing.isEmpty || Prerequisite.requireAll,
                        Comment(rawValue: missing.joined(separator: "; ")
                                + "; scripts/test-all.sh installs every prerequisite and runs the whole suite"))
    }
}

// MARK: - Unprivileged children

/// The end-to-end tests run the services as the unprivileged user nobody (uid/gid 65534) when
/// the tests themselves run as root, so a capability only root has can never again hide a failure
/// (SO_DEBUG needs CAP_NET_ADMIN: as root every connection worked, as anyone else none did).
public enum Unprivileged {
    public static let uid: uid_t = 65534
    public static let gid: gid_t = 65534

    /// True when children are started through setpriv as uid 65534.
    public static var dropsPrivileges: Bool { getuid() == 0 }

    /// Put in front of a service's command line (after any `ip netns exec NS`).
    public static func prefix() throws -> [String] {
        guard dropsPrivileges else { return [] }
        guard Prerequisite.executable("setpriv") != nil else { throw SetprivMissing() }
        return ["setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups"]
    }

    /// Makes `path` (created if missing) and everything under it owned by the unprivileged user,
    /// so a child can write there. Best effort: on a filesystem without chown (FUSE) it is a no-op.
    public static func grant(_ path: String) {
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard dropsPrivileges else { return }
        _ = chown(path, uid, gid)
        if let entries = FileManager.default.enumerator(atPath: path) {
            for case let entry as String in entries { _ = lchown(path + "/" + entry, uid, gid) }
        }
    }

    /// A built executable uid 65534 can run: the built one when it can reach it, otherwise a link
    /// (or copy) in a world-readable temporary directory, with the resource bundles beside it
    /// (the store finds its dataset there). A checkout under /root (mode 700) is out of its reach.
    public static func executable(_ name: String) throws -> String {
        let built = try BuiltProducts.path(name)
        guard dropsPrivileges else { return built }
        return try reachableProducts.withLock { directory in
            if directory == nil {
                let builtDirectory = (built as NSString).deletingLastPathComponent
                if Prerequisite.run(try prefix() + ["test", "-x", built, "-a", "-r", builtDirectory]) == 0 {
                    directory = builtDirectory
                } else {
                    directory = try copyProducts(from: builtDirectory)
                    note("Unprivileged: uid \(uid) cannot reach \(builtDirectory); the services run from copies in \(directory!)")
                }
            }
            return directory! + "/" + name
        }
    }

    private static let reachableProducts = Mutex<String?>(nil)

    private static func copyProducts(from builtDirectory: String) throws -> String {
        let directory = "/tmp/epilogue-test-products-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        for entry in try FileManager.default.contentsOfDirectory(atPath: builtDirectory)
        where entry.hasPrefix("epilogue-") && !entry.contains(".") || entry.hasSuffix(".resources") {
            let source = builtDirectory + "/" + entry, target = directory + "/" + entry
            if (try? FileManager.default.linkItem(atPath: source, toPath: target)) == nil {
                try FileManager.default.copyItem(atPath: source, toPath: target)
            }
        }
        _ = Prerequisite.run(["chmod", "-R", "a+rX", directory])
        atexit { _ = Prerequisite.run(["rm", "-rf", "/tmp/epilogue-test-products-\(getpid())"]) }
        return directory
    }

    public struct SetprivMissing: Error, CustomStringConvertible {
        public var description: String { "running as root but setpriv (util-linux) is missing: cannot start the services unprivileged" }
    }
}

// MARK: - Services as child processes

/// `epilogue-store` or `epilogue-gateway` as a child process, the way every end-to-end test
/// starts one: unprivileged (see `Unprivileged`), on `--port 0` unless told otherwise, the port it
/// got read back from its `--port-file` (no "free port" picked first and raced for), its stderr
/// kept in a log quoted by failures. `prefix` runs it elsewhere, e.g. `ip netns exec NS`.
public final class ServiceProcess: @unchecked Sendable {
    public enum Kind: String, Sendable { case store = "epilogue-store", gateway = "epilogue-gateway" }

    public let kind: Kind
    public let arguments: [String]
    public let prefix: [String]
    public let host: String
    /// Holds the port file and the log; owned by the unprivileged user.
    public let workDirectory: String
    public private(set) var port = 0
    public private(set) var metricsPort: Int?
    private var process: Process?

    /// Starts it and waits until it listens. `arguments` must not hold `--port`.
    public init(_ kind: Kind, host: String = "127.0.0.1", arguments: [String], prefix: [String] = [], port: Int = 0) async throws {
        self.kind = kind
        self.host = host
        self.arguments = arguments
        self.prefix = prefix
        workDirectory = TestSupport.temporaryDirectory("child-\(kind.rawValue)")
        Unprivileged.grant(workDirectory)
        try await start(port: port)
    }

    deinit {
        stop()
        TestSupport.removeDirectory(workDirectory)
    }

    public var pid: Int32 { process?.processIdentifier ?? 0 }
    public var isRunning: Bool { process?.isRunning ?? false }
    public var address: String { "\(host):\(port)" }
    private var portFile: String { workDirectory + "/ports" }
    public var logFile: String { workDirectory + "/stderr.log" }
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Launches it on `port` (0: any) and waits (up to 30 s) until its port file names its port.
    public func start(port requested: Int = 0) async throws {
        try? FileManager.default.removeItem(atPath: portFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = prefix + (try Unprivileged.prefix()) + [try Unprivileged.executable(kind.rawValue)]
            + ["--host", host, "--port", "\(requested)", "--port-file", portFile] + arguments
        process.standardOutput = FileHandle.nullDevice
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile))
        log.seekToEndOfFile()
        process.standardError = log
        try process.run()
        try? log.close()
        self.process = process
        let wantsMetrics = arguments.firstIndex(of: "--metrics-port").map { $0 + 1 < arguments.count && arguments[$0 + 1] != "0" } ?? false
        // Up to 30 s: a debug build replaying a long log on a busy machine is not quick.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            // The metrics endpoint binds independently: when one was asked for, wait for it too.
            if let ports = readPorts(), let port = ports["port"], !wantsMetrics || ports["metrics_port"] != nil {
                self.port = port
                metricsPort = ports["metrics_port"]
                return
            }
            guard process.isRunning else { throw StartFailed(kind: kind, status: process.terminationStatus, log: self.log) }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw StartFailed(kind: kind, status: nil, log: self.log)
    }

    /// After a SIGKILL: the same port again, retried for up to `within` (another process may hold
    /// it for a moment); the clients that know the port reconnect by themselves.
    public func restartOnSamePort(within: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + within
        while true {
            do {
                try await start(port: port)
                return
            } catch let error as StartFailed where ContinuousClock.now < deadline {
                note("\(kind.rawValue): restart on port \(port) failed (\(error.status.map { "exit \($0)" } ?? "timeout")), retrying")
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    private func readPorts() -> [String: Int]? {
        guard let text = try? String(contentsOfFile: portFile, encoding: .utf8) else { return nil }
        var ports: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=")
            if parts.count == 2, let port = Int(parts[1]) { ports[String(parts[0])] = port }
        }
        return ports
    }

    public func signal(_ signal: Int32) {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    public func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGCONT (it may be stopped), SIGTERM, SIGKILL after 5 s.
    public func stop() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGCONT)
        process.terminate()
        for _ in 0..<100 where process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    public struct StartFailed: Error, CustomStringConvertible {
        public var kind: Kind
        public var status: Int32?
        public var log: String
        public init(kind: Kind, status: Int32?, log: String) {
            self.kind = kind
            self.status = status
            self.log = log
        }
        public var description: String {
            "\(kind.rawValue) did not start listening (\(status.map { "exited with \($0)" } ?? "no port file within 30 s")); its stderr:\n\(log.suffix(2_000))"
        }
    }
}

/// `epilogue-store` as a separate process, so a test can SIGKILL and restart it: unprivileged,
/// on a port of its own choosing, data in `directory` (handed to the unprivileged user).
public final class StoreProcess: @unchecked Sendable {
    public let directory: String
    public let service: ServiceProcess

    public init(directory: String, extraArguments: [String] = [], prefix: [String] = [], host: String = "127.0.0.1") async throws {
        self.directory = directory
        Unprivileged.grant(directory)
        service = try await ServiceProcess(.store, host: host, arguments: ["--data-dir", directory, "--metrics-port", "0", "--no-dataset",
                                                                           "--log-level", "error"] + extraArguments,
                                           prefix: prefix)
    }

    public var port: Int { service.port }
    public var pid: Int32 { service.pid }

    /// Until it answers a handshake and PING (up to 30 s).
    public func waitUntilServing() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = ""
        while ContinuousClock.now < deadline {
            switch await StoreProbe.ping(host: service.host, port: port, secret: nil, timeout: .milliseconds(500)) {
            case .success: return
            case .failure(let error): last = "\(error)"
            }
            guard service.isRunning else { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw NotServing(lastError: last, log: service.log)
    }

    public func kill() { service.kill() }
    public func stop() { service.stop() }

    /// After `kill()`: starts again on the same port (bounded retry) and waits until it serves.
    public func restart() async throws {
        try await service.restartOnSamePort()
        try await waitUntilServing()
    }

    public struct NotServing: Error, CustomStringConvertible {
        public var lastError: String
        public var log: String
        public var description: String { "the store did not answer PING within 30 s (last: \(lastError)); its stderr:\n\(log.suffix(2_000))" }
    }
}

/// `epilogue-gateway` as a child process in front of `store` ("host:port"), unprivileged, on a
/// port of its own choosing.
public func startGateway(store: String, arguments: [String] = [], prefix: [String] = [], host: String = "127.0.0.1") async throws -> ServiceProcess {
    try await ServiceProcess(.gateway, host: host, arguments: ["--store", store, "--log-level", "error"]
                                 + (arguments.contains("--metrics-port") ? [] : ["--metrics-port", "0"]) + arguments,
                             prefix: prefix)
}

/// Other child processes of the end-to-end tests (helpers such as the delay proxy).
public enum ChildProcess {
    /// Runs `command` through /usr/bin/env (so `ip netns exec …` prefixes work), stdout discarded.
    public static func launch(_ command: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// SIGCONT (it may be stopped), SIGTERM, then SIGKILL after 2 s: a python helper may have
    /// inherited an ignored SIGTERM.
    public static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGCONT)
        process.terminate()
        for _ in 0..<40 where process.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Waits (up to 10 s) for a `port=N` line in `file`, written by a helper started on port 0.
    public static func port(fromFile file: String, of process: Process) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("port=") }), let port = Int(line.dropFirst(5)) {
                return port
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw NoPort(file: file)
    }

    public struct NoPort: Error { var file: String }
}

// MARK: - Seeds

/// A seed for a test's random generator: EPILOGUE_TEST_SEED when set (to replay a failure),
/// otherwise a fresh one. Failures print it through `description`.
public struct TestSeed: CustomStringConvertible, Sendable {
    public let value: UInt64

    public init() {
        value = ProcessInfo.processInfo.environment["EPILOGUE_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    }

    public var generator: SplitMix64 { SplitMix64(seed: value) }
    public var description: String { "seed \(value) (replay with EPILOGUE_TEST_SEED=\(value))" }
}

// MARK: - Client subcommands

/// `epilogue-store <arguments>` run to completion as a client (import, backup), unprivileged like
/// the services: its exit status, stdout and stderr.
public enum StoreClientCommand {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> Outcome {
        let work = TestSupport.temporaryDirectory("client-command")
        defer { TestSupport.removeDirectory(work) }
        Unprivileged.grant(work)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = try Unprivileged.prefix() + [try Unprivileged.executable("epilogue-store")] + arguments
        _ = FileManager.default.createFile(atPath: work + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: work + "/err", contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: work + "/out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: work + "/err"))
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { ChildProcess.stop(process) }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus,
                       stdout: (try? String(contentsOfFile: work + "/out", encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: work + "/err", encoding: .utf8)) ?? "")
    }
}
