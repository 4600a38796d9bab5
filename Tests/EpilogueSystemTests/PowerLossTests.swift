import EpilogueProtocol
import EpilogueModel
import EpilogueShared
@testable import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import Logging
import Synchronization
import Testing
/// Power loss: the store's data directory sits on tests-support/lossyfs.py, a FUSE filesystem
/// that keeps file data in memory until fsync and loses the rest when killed. After each "power
/// cut" (the filesystem and the store SIGKILLed together), every write acknowledged under
/// `--fsync always` must still be there. Mounting FUSE needs root and fuse3 + python3-fusepy (the
/// test's name says so; skipped with that reason without them); the store runs unprivileged on
/// the mount (lossyfs mounts with allow_other).
@Suite(.serialized, .requires(.root, .fuse)) struct PowerLossTests {
    static let lossyFS = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests-support/lossyfs.py").path

    @Test(.timeLimit(.minutes(3)))
    func asRootOnAFUSEMountAcknowledgedWritesSurvivePowerCuts() async throws {
        try Prerequisite.check(.root, .fuse)
        let root = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(root) }
        let backing = root + "/backing", mount = root + "/mnt"
        try FileManager.default.createDirectory(atPath: backing, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)

        var acknowledged: [String: String] = [:]
        var generator = SplitMix64(seed: 99)
        for cycle in 0..<3 {
            let fs = try Self.mountLossyFS(backing: backing, mount: mount)
            let store = try await StoreProcess(directory: mount + "/data")
            try await store.waitUntilServing()
            let port = store.port
            // Everything acknowledged before this power cut must have survived the previous ones.
            let missing = try await Self.missing(acknowledged, port: port)
            #expect(missing.isEmpty, "cycle \(cycle): lost acknowledged writes \(missing.prefix(5))")

            var logger = Logger(label: "power-test")
            logger.logLevel = .critical
            let client = StoreClient(configuration: .init(host: "127.0.0.1", port: port, connections: 2), logger: logger)
            client.start()
            _ = await client.waitUntilConnected(timeout: .seconds(2))
            let progress = AckCounter()
            let writers = Task { () -> [String: String] in
                await withTaskGroup(of: [String: String].self) { group in
                    for writer in 0..<6 {
                        group.addTask {
                            var acked: [String: String] = [:]
                            var n = 0
                            while !Task.isCancelled {
                                n += 1
                                let id = "p\(cycle)-\(writer)-\(n)", reading = "power cycle \(cycle) writer \(writer) #\(n)"
                                let content = RecordContent(film: "Power", year: 2000, director: "D", subject: "s", reading: reading,
                                                            source: "test", sourceKind: .critic, themes: [])
                                guard (try? await client.put(id: id, content: content)) != nil else { break }
                                acked[id] = reading
                                progress.add()
                            }
                            return acked
                        }
                    }
                    var all: [String: String] = [:]
                    for await part in group { all.merge(part) { $1 } }
                    return all
                }
            }
            // Cut at a random moment once writes are flowing (on a busy machine the restarted store
            // can take a while to acknowledge its first write; a cut before that tests nothing).
            let flowing = ContinuousClock.now + .seconds(20)
            while progress.count < 10 && ContinuousClock.now < flowing { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(Int(generator.next() % 400) + 50))
            // Power cut: the filesystem and the store die at once.
            kill(fs.processIdentifier, SIGKILL)
            store.kill()
            let acked = await writers.value
            writers.cancel()
            client.shutdown()
            fs.waitUntilExit()
            _ = DiskFaultTests.run(["umount", "-l", mount])
            acknowledged.merge(acked) { $1 }
            #expect(!acked.isEmpty, "cycle \(cycle): no write was acknowledged")
        }
        // Final check after the last cut.
        let fs = try Self.mountLossyFS(backing: backing, mount: mount)
        defer { kill(fs.processIdentifier, SIGKILL); fs.waitUntilExit(); _ = DiskFaultTests.run(["umount", "-l", mount]) }
        let store = try await StoreProcess(directory: mount + "/data")
        defer { store.stop() }
        try await store.waitUntilServing()
        let port = store.port
        let missing = try await Self.missing(acknowledged, port: port)
        #expect(missing.isEmpty, "lost acknowledged writes after the last power cut: \(missing.prefix(5))")
        print("PowerLossTests: 3 power cuts, \(acknowledged.count) acknowledged writes, \(missing.count) lost")
    }

    static func mountLossyFS(backing: String, mount: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [lossyFS, backing, mount]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 {
            if DiskFaultTests.run(["mountpoint", "-q", mount]) == 0 { return process }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw MountFailed()
    }

    struct MountFailed: Error, CustomStringConvertible {
        var description: String { "lossyfs did not mount (needs fuse3 and python3-fusepy)" }
    }

    /// Acknowledged ids that the store does not return with the acknowledged content.
    static func missing(_ acknowledged: [String: String], port: Int) async throws -> [String] {
        var missing: [String] = []
        try await withWireClient(port: port) { client in
            try await client.handshake(dictionaries: [])
            var id: UInt32 = 0
            for (key, reading) in acknowledged {
                id += 1
                try await client.send(.get(id: key), id: id)
                guard case .record(let wire) = try await client.receive().message,
                      (try? RecordBody.decode(wire.body).reading) == reading else {
                    missing.append(key)
                    continue
                }
            }
        }
        return missing
    }
}

/// Acknowledged writes so far, shared by the writer tasks and the test.
private final class AckCounter: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
    func add() { value.wrappingAdd(1, ordering: .relaxed) }
}
