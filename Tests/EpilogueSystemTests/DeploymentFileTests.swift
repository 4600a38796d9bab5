import EpilogueTestSupport
import Foundation
import Testing

/// Pins down the promises docker-compose.yml, docker-stack.yml and the Dockerfile make
/// (docs/DEPLOYMENT.md): the store is private, keeps its data in a named volume and is healthy before
/// gateways start; gateways scale onto distinct host ports; both restart and share the secret from
/// the environment; the image runs unprivileged, and its CI-only `prebuilt` target is the shipped
/// runtime stage; the swarm stack runs one pinned store and rolls gateways start-first. These are
/// static checks; scripts/compose-e2e.sh and scripts/swarm-e2e.sh (in .ci/run) run the files for
/// real. No Docker engine is needed here: the YAML files are read with python3 + PyYAML
/// (apt: python3-yaml); without python3 + PyYAML the suite is skipped with that reason (a failure
/// under EPILOGUE_REQUIRE_ALL_TESTS=1, as scripts/test-all.sh runs it).
@Suite(.requires(.pyyaml)) struct DeploymentFileTests {
    // MARK: docker-compose.yml — the store

    @Test func storePublishesNoPortsToTheHost() throws {
        let store = try DeploymentFiles.service("store")
        #expect(store["ports"] == nil, "the store must not publish ports; only gateways reach it, over the backend network")
    }

    @Test func storeKeepsItsDataInADeclaredNamedVolumeMountedAtData() throws {
        let compose = try DeploymentFiles.compose()
        let store = try DeploymentFiles.service("store", in: compose)
        let mounts = try DeploymentFiles.volumeMounts(of: store)
        let dataMount = try #require(mounts.first { $0.target == "/data" }, "the store mounts nothing at /data: \(mounts)")
        #expect(dataMount.isNamedVolume, "/data must be a named volume, not a bind mount of '\(dataMount.source)'")
        let declared = (compose["volumes"] as? [String: Any]) ?? [:]
        #expect(declared.keys.contains(dataMount.source),
                "volume '\(dataMount.source)' is not declared under top-level volumes (declared: \(declared.keys.sorted()))")
    }

    @Test func storeIsOnlyOnInternalNetworks() throws {
        let compose = try DeploymentFiles.compose()
        let store = try DeploymentFiles.service("store", in: compose)
        #expect(store["network_mode"] == nil, "the store must not use network_mode (host networking would expose it)")
        let networks = DeploymentFiles.networkNames(of: store)
        #expect(!networks.isEmpty, "the store must name its networks (the default network is not internal)")
        let declared = (compose["networks"] as? [String: Any]) ?? [:]
        for network in networks {
            let definition = declared[network] as? [String: Any]
            #expect(definition?["internal"] as? Bool == true,
                    "the store is on network '\(network)', which is not declared with internal: true")
        }
    }

    // MARK: docker-compose.yml — the gateway

    @Test func gatewayPublishesPort7700FromAHostPortRangeSoReplicasGetDistinctPorts() throws {
        let gateway = try DeploymentFiles.service("gateway")
        let ports = try #require(gateway["ports"] as? [Any], "the gateway publishes no ports")
        let mappings = ports.compactMap(DeploymentFiles.PortMapping.init)
        let mapping = try #require(mappings.first { $0.target == "7700" }, "no published mapping targets container port 7700: \(ports)")
        let range = try #require(mapping.publishedRange,
                                 "host side of 7700 is '\(mapping.published ?? "none")', not a range like 7700-7709: `--scale gateway=N` needs N host ports")
        #expect(range.upperBound > range.lowerBound, "host port range \(range) holds a single port")
    }

    @Test func gatewayStartsOnlyOnceTheStoreIsHealthy() throws {
        let gateway = try DeploymentFiles.service("gateway")
        let dependsOn = try #require(gateway["depends_on"] as? [String: Any],
                                     "gateway.depends_on must be the long form, with a condition per service")
        let store = try #require(dependsOn["store"] as? [String: Any], "the gateway does not depend on the store")
        #expect(store["condition"] as? String == "service_healthy")
    }

    // MARK: docker-compose.yml — both services

    @Test(arguments: ["store", "gateway"])
    func serviceHasAHealthcheckUsingItsCheckFlag(_ name: String) throws {
        let service = try DeploymentFiles.service(name)
        let healthcheck = try #require(service["healthcheck"] as? [String: Any], "\(name) has no healthcheck")
        #expect(healthcheck["disable"] as? Bool != true, "\(name)'s healthcheck is disabled")
        let test = try #require(healthcheck["test"] as? [String], "\(name)'s healthcheck.test must be an exec-form list")
        #expect(test.first == "CMD", "\(name)'s healthcheck should run the binary directly (CMD), the image has no need of a shell")
        #expect(test.contains("--check"), "\(name)'s healthcheck does not use --check: \(test)")
    }

    @Test(arguments: ["store", "gateway"])
    func serviceRestartsAfterFailing(_ name: String) throws {
        let service = try DeploymentFiles.service(name)
        let restart = try #require(service["restart"] as? String, "\(name) has no restart policy")
        #expect(["always", "unless-stopped", "on-failure"].contains { restart.hasPrefix($0) },
                "\(name) has restart: \(restart)")
    }

    @Test(arguments: ["store", "gateway"])
    func serviceTakesEpilogueSecretFromTheEnvironment(_ name: String) throws {
        let service = try DeploymentFiles.service(name)
        let environment = try #require(DeploymentFiles.environment(of: service), "\(name) sets no environment")
        let value = try #require(environment["EPILOGUE_SECRET"], "\(name) does not set EPILOGUE_SECRET")
        // `KEY` with no value passes the host's variable through; `${EPILOGUE_SECRET...}` interpolates it.
        #expect(value.map { $0.hasPrefix("${EPILOGUE_SECRET") } ?? true,
                "\(name)'s EPILOGUE_SECRET is '\(value ?? "")': a secret written into the file instead of taken from the environment")
    }

    // MARK: Dockerfile

    @Test func dockerfileBuildsInOneStageAndShipsAnother() throws {
        let instructions = try DeploymentFiles.dockerfileInstructions()
        let stages = instructions.filter { $0.keyword == "FROM" }
        #expect(stages.count >= 2, "the Dockerfile has \(stages.count) FROM stage(s); the toolchain must stay out of the runtime image")
    }

    @Test func dockerfileRunsTheFinalImageAsANonRootUser() throws {
        let stages = try DeploymentFiles.dockerfileStages()
        let final = try #require(stages.last, "the Dockerfile has no FROM")
        // The final stage may inherit USER from an earlier stage it is built FROM.
        let user = try #require(DeploymentFiles.effectiveInstruction("USER", of: final, in: stages),
                                "the final stage (and the stages it is built on) sets no USER, so it runs as root")
        let name = user.arguments.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        #expect(!name.isEmpty && name != "root" && name != "0", "the final stage runs as USER \(user.arguments)")
    }

    /// CI cannot pull the Swift image, so it builds `--target prebuilt` around host-built binaries
    /// (scripts/compose-e2e.sh). That target must be the shipped image minus the compiler: built on
    /// the same stage as the default target, and placed before the Swift stage, because the classic
    /// builder builds every stage up to its target.
    @Test func dockerfilePrebuiltTargetSharesTheRuntimeStageAndPrecedesTheSwiftStage() throws {
        let stages = try DeploymentFiles.dockerfileStages()
        let final = try #require(stages.last)
        let prebuilt = try #require(stages.first { $0.name == "prebuilt" }, "no stage named prebuilt: \(stages.map(\.name))")
        let swiftIndex = try #require(stages.firstIndex { $0.base.hasPrefix("swift:") }, "no stage FROM swift:…")
        let prebuiltIndex = try #require(stages.firstIndex { $0.name == "prebuilt" })
        #expect(prebuiltIndex < swiftIndex, "the prebuilt stage comes after the Swift stage; --target prebuilt would need the Swift image")
        #expect(prebuilt.base == final.base, "prebuilt is FROM \(prebuilt.base), the default target FROM \(final.base)")
        #expect(final.base != "scratch" && stages.contains { $0.name == final.base },
                "the default target should be built on the shared runtime stage, not FROM \(final.base) directly")
        #expect(final.instructions.contains { $0.keyword == "COPY" && $0.arguments.contains("--from=build") },
                "the default target does not take its binaries from the build stage")
    }

    // MARK: docker-stack.yml (swarm mode)

    @Test func stackRunsOneStorePinnedToTheNodeOfItsVolume() throws {
        let store = try DeploymentFiles.service("store", file: "docker-stack.yml")
        let deploy = try #require(store["deploy"] as? [String: Any], "the stack's store has no deploy section")
        #expect(deploy["replicas"] as? Int == 1, "the store must run exactly one replica: one log")
        let placement = deploy["placement"] as? [String: Any]
        let constraints = placement?["constraints"] as? [String] ?? []
        #expect(!constraints.isEmpty, "the store is not pinned: its named volume exists on one node only")
        let update = deploy["update_config"] as? [String: Any]
        #expect((update?["order"] as? String ?? "stop-first") == "stop-first", "a start-first store update would run two stores on one log")
        #expect(store["ports"] == nil, "the store must not publish ports")
    }

    @Test func stackGatewaysUpdateStartFirstOnHostModePortsWithDNSRoundRobin() throws {
        let gateway = try DeploymentFiles.service("gateway", file: "docker-stack.yml")
        let deploy = try #require(gateway["deploy"] as? [String: Any], "the stack's gateway has no deploy section")
        #expect(deploy["endpoint_mode"] as? String == "dnsrr", "swarm's IPVS virtual IPs are not used: endpoint_mode must be dnsrr")
        let update = try #require(deploy["update_config"] as? [String: Any], "no update_config")
        #expect(update["order"] as? String == "start-first", "a rolling update must start the new gateway before stopping the old")
        let ports = try #require(gateway["ports"] as? [[String: Any]], "the gateway publishes no ports in long syntax")
        let port = try #require(ports.first { "\($0["target"] ?? "")" == "7700" }, "no port targets 7700")
        #expect(port["mode"] as? String == "host", "dnsrr services publish in host mode; ingress needs IPVS")
        #expect(port["published"] == nil,
                "a fixed published port lets only one replica per node run, and a start-first update cannot place its new task")
    }

    @Test(arguments: ["store", "gateway"])
    func stackServiceMatchesTheComposeService(_ name: String) throws {
        let compose = try DeploymentFiles.service(name)
        let stack = try DeploymentFiles.service(name, file: "docker-stack.yml")
        for key in ["image", "command", "environment", "healthcheck", "networks", "volumes", "stop_grace_period"] {
            let a = DeploymentFiles.canonicalJSON(compose[key])
            let b = DeploymentFiles.canonicalJSON(stack[key])
            #expect(a == b, "\(name).\(key) differs: docker-compose.yml \(a), docker-stack.yml \(b)")
        }
    }
}

/// Reading the deployment files at the package root (two folders up from this file).
enum DeploymentFiles {
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    // MARK: compose

    /// docker-compose.yml as JSON objects, parsed by PyYAML (`yaml.safe_load`, which also resolves `<<` merges).
    static func compose() throws -> [String: Any] {
        try yamlDocument("docker-compose.yml")
    }

    /// A YAML file at the package root as JSON objects (PyYAML).
    static func yamlDocument(_ file: String) throws -> [String: Any] {
        let path = root.appendingPathComponent(file).path
        guard FileManager.default.fileExists(atPath: path) else { throw ReadError(description: "\(path) does not exist") }
        let script = """
            import json, sys
            try:
                import yaml
            except ImportError:
                sys.stderr.write("PyYAML is not installed for " + sys.executable)
                sys.exit(3)
            with open(sys.argv[1], encoding="utf-8") as f:
                json.dump(yaml.safe_load(f), sys.stdout, default=str)
            """
        // python3 on PATH first, then Debian's own, which is where apt's python3-yaml installs.
        var attempts: [String] = []
        for (executable, prefix) in [("/usr/bin/env", ["python3"]), ("/usr/bin/python3", [])] {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                attempts.append("\(executable): not found")
                continue
            }
            let run = try runProcess(executable, prefix + ["-c", script, path])
            if run.status == 0 {
                let object = try JSONSerialization.jsonObject(with: run.stdout)
                guard let document = object as? [String: Any] else {
                    throw ReadError(description: "\(path) is not a YAML mapping")
                }
                return document
            }
            let reason = run.status == 127 ? "python3 not found" : run.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            attempts.append("\(([executable] + prefix).joined(separator: " ")): exit \(run.status): \(reason)")
        }
        throw ReadError(description: """
            cannot read \(file): these tests need python3 with PyYAML \
            (apt-get install python3-yaml, or pip install pyyaml). Tried: \(attempts.joined(separator: "; "))
            """)
    }

    static func service(_ name: String, in compose: [String: Any]? = nil, file: String = "docker-compose.yml") throws -> [String: Any] {
        let document = try compose ?? yamlDocument(file)
        guard let services = document["services"] as? [String: Any] else {
            throw ReadError(description: "\(file) has no services")
        }
        guard let service = services[name] as? [String: Any] else {
            throw ReadError(description: "\(file) has no service '\(name)' (has: \(services.keys.sorted()))")
        }
        return service
    }

    static func networkNames(of service: [String: Any]) -> [String] {
        if let list = service["networks"] as? [String] { return list }
        if let map = service["networks"] as? [String: Any] { return map.keys.sorted() }
        return []
    }

    /// `environment:` as a map or as a `KEY=VALUE` list; a value of nil means "KEY" alone (taken from the host).
    static func environment(of service: [String: Any]) -> [String: String?]? {
        if let map = service["environment"] as? [String: Any] {
            return map.mapValues { value -> String? in
                if value is NSNull { return nil }
                return value as? String ?? "\(value)"
            }
        }
        if let list = service["environment"] as? [String] {
            var result: [String: String?] = [:]
            for entry in list {
                let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : String?.none
            }
            return result
        }
        return nil
    }

    struct VolumeMount {
        var source: String
        var target: String
        var type: String?

        /// A named volume: long syntax `type: volume`, or short syntax whose source is not a path.
        var isNamedVolume: Bool {
            if let type { return type == "volume" && !source.isEmpty }
            return !source.isEmpty && !source.hasPrefix("/") && !source.hasPrefix(".") && !source.hasPrefix("~")
        }
    }

    static func volumeMounts(of service: [String: Any]) throws -> [VolumeMount] {
        guard let volumes = service["volumes"] as? [Any] else { return [] }
        return volumes.compactMap { entry in
            if let short = entry as? String {
                // SOURCE:TARGET[:MODE]; a lone TARGET is an anonymous volume.
                let parts = short.split(separator: ":").map(String.init)
                return parts.count >= 2 ? VolumeMount(source: parts[0], target: parts[1], type: nil)
                                        : VolumeMount(source: "", target: parts.first ?? "", type: nil)
            }
            if let long = entry as? [String: Any], let target = long["target"] as? String {
                return VolumeMount(source: long["source"] as? String ?? "", target: target, type: long["type"] as? String)
            }
            return nil
        }
    }

    /// One entry of `ports:`, short (`[IP:][HOST:]CONTAINER[/PROTO]`) or long syntax.
    struct PortMapping {
        var published: String?
        var target: String

        init?(_ entry: Any) {
            if let number = entry as? Int {
                published = nil
                target = String(number)
            } else if let short = entry as? String {
                let withoutProtocol = short.split(separator: "/").first.map(String.init) ?? short
                var parts = withoutProtocol.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard let container = parts.popLast() else { return nil }
                target = container
                published = parts.last.flatMap { $0.isEmpty ? nil : $0 }
            } else if let long = entry as? [String: Any], let target = long["target"] {
                self.target = "\(target)"
                published = long["published"].map { "\($0)" }
            } else {
                return nil
            }
        }

        /// The host ports, when `published` is a range `LOW-HIGH`.
        var publishedRange: ClosedRange<Int>? {
            guard let published else { return nil }
            let bounds = published.split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2, bounds[0] <= bounds[1] else { return nil }
            return bounds[0]...bounds[1]
        }
    }

    // MARK: Dockerfile

    struct Instruction {
        var keyword: String
        var arguments: String
    }

    /// The Dockerfile's instructions (comments dropped, `\` continuations joined).
    static func dockerfileInstructions() throws -> [Instruction] {
        let url = root.appendingPathComponent("Dockerfile")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ReadError(description: "cannot read \(url.path)")
        }
        var instructions: [Instruction] = []
        var pending = ""
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && pending.isEmpty) { continue }
            if line.hasSuffix("\\") {
                pending += String(line.dropLast()) + " "
                continue
            }
            let whole = (pending + line).trimmingCharacters(in: .whitespaces)
            pending = ""
            guard !whole.isEmpty else { continue }
            let keyword = whole.prefix { !$0.isWhitespace }
            let arguments = whole.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
            instructions.append(Instruction(keyword: keyword.uppercased(), arguments: arguments))
        }
        return instructions
    }

    /// A value read from YAML as JSON text with sorted keys, so two values compare by content.
    static func canonicalJSON(_ value: Any?) -> String {
        guard let value else { return "null" }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else {
            return "\(value)"
        }
        return String(decoding: data, as: UTF8.self)
    }

    struct Stage {
        var base: String
        var name: String?
        var instructions: [Instruction]
    }

    /// The Dockerfile's stages: `FROM base [AS name]` and the instructions up to the next FROM.
    static func dockerfileStages() throws -> [Stage] {
        var stages: [Stage] = []
        for instruction in try dockerfileInstructions() {
            if instruction.keyword == "FROM" {
                let words = instruction.arguments.split(whereSeparator: \.isWhitespace).map(String.init)
                    .filter { !$0.hasPrefix("--") }
                let name = words.count >= 3 && words[1].uppercased() == "AS" ? words[2] : nil
                stages.append(Stage(base: words.first ?? "", name: name, instructions: []))
            } else if !stages.isEmpty {
                stages[stages.count - 1].instructions.append(instruction)
            }
        }
        return stages
    }

    /// The last `keyword` instruction in effect in `stage`: its own, else that of the stage it is FROM.
    static func effectiveInstruction(_ keyword: String, of stage: Stage, in stages: [Stage]) -> Instruction? {
        var current: Stage? = stage
        var seen = 0
        while let s = current, seen <= stages.count {
            if let found = s.instructions.last(where: { $0.keyword == keyword }) { return found }
            current = stages.first { $0.name == s.base }
            seen += 1
        }
        return nil
    }

    // MARK: processes

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        // stderr goes to a file, so a chatty child can never fill a pipe nobody is reading.
        let errorFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("epilogue-deployment-test-\(UUID().uuidString).stderr")
        guard FileManager.default.createFile(atPath: errorFile.path, contents: nil) else {
            throw ReadError(description: "cannot create \(errorFile.path)")
        }
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        defer { try? errorHandle.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = errorHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = (try? Data(contentsOf: errorFile)) ?? Data()
        return (process.terminationStatus, output, String(decoding: errors, as: UTF8.self))
    }
}
