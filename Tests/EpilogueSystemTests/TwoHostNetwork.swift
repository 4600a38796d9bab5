import EpilogueShared
import EpilogueTestSupport
import Foundation
import Testing
/// Two namespaces ("hosts") for store and gateway, a veth link between them, and a veth from the
/// test's own namespace to the gateway's.
struct TwoHostNetwork {
    let suffix: String
    let subnet: Int
    var storeNamespace: String { "epi-s-\(suffix)" }
    var gatewayNamespace: String { "epi-g-\(suffix)" }
    var storeAddress: String { "10.231.\(subnet).1" }
    var gatewayAddress: String { "10.232.\(subnet).2" }
    private var storeLink: String { "es\(suffix)" }

    static func make() throws -> TwoHostNetwork {
        guard getuid() == 0 else { throw Unavailable(reason: "network namespaces need root") }
        // Unique names, not test inputs: a random source is fine here.
        let suffix = String(UInt32.random(in: 0..<0xFFFFF), radix: 16)
        let net = TwoHostNetwork(suffix: suffix, subnet: Int.random(in: 1...250))
        do {
            try net.run(["ip", "netns", "add", net.storeNamespace])
            try net.run(["ip", "netns", "add", net.gatewayNamespace])
            // store <-> gateway
            try net.run(["ip", "link", "add", "es\(suffix)", "netns", net.storeNamespace, "type", "veth", "peer", "name", "eg\(suffix)", "netns", net.gatewayNamespace])
            try net.run(["ip", "-n", net.storeNamespace, "addr", "add", "\(net.storeAddress)/30", "dev", "es\(suffix)"])
            try net.run(["ip", "-n", net.gatewayNamespace, "addr", "add", "10.231.\(net.subnet).2/30", "dev", "eg\(suffix)"])
            // test <-> gateway
            try net.run(["ip", "link", "add", "er\(suffix)", "type", "veth", "peer", "name", "ex\(suffix)", "netns", net.gatewayNamespace])
            try net.run(["ip", "addr", "add", "10.232.\(net.subnet).1/30", "dev", "er\(suffix)"])
            try net.run(["ip", "-n", net.gatewayNamespace, "addr", "add", "\(net.gatewayAddress)/30", "dev", "ex\(suffix)"])
            for (ns, dev) in [(net.storeNamespace, "es\(suffix)"), (net.gatewayNamespace, "eg\(suffix)"), (net.gatewayNamespace, "ex\(suffix)"),
                              (net.storeNamespace, "lo"), (net.gatewayNamespace, "lo")] {
                try net.run(["ip", "-n", ns, "link", "set", dev, "up"])
            }
            try net.run(["ip", "link", "set", "er\(suffix)", "up"])
        } catch {
            net.tearDown()
            throw error
        }
        return net
    }

    func setStoreLink(up: Bool) throws {
        try run(["ip", "-n", storeNamespace, "link", "set", storeLink, up ? "up" : "down"])
    }

    func tearDown() {
        _ = try? run(["ip", "netns", "del", storeNamespace])
        _ = try? run(["ip", "netns", "del", gatewayNamespace])
        _ = try? run(["ip", "link", "del", "er\(suffix)"])
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Unavailable(reason: "`\(arguments.joined(separator: " "))` exited with \(process.terminationStatus)") }
        return process.terminationStatus
    }

    struct Unavailable: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }
}
