import EpilogueShared
@testable import EpilogueStoreClient
import EpilogueTestSupport
import Foundation
import Logging
import Testing
@testable import EpilogueGateway
/// The options every TCP socket of ours carries, read back from the kernel with getsockopt:
/// TCP_NODELAY on, and SO_DEBUG off. `.socketOption(.tcp_nodelay)` once set SOL_SOCKET option 1,
/// which is SO_DEBUG: as root (CAP_NET_ADMIN) that silently succeeded, as anyone else it failed
/// with EACCES and closed every connection. Reading the option back catches it even when the
/// tests run as root. Sockets are found among this process's descriptors by their two ports; the
/// benchmark client, in its own executable, is run as the unprivileged user instead.
@Suite(.timeLimit(.minutes(1))) struct SocketOptionTests {
    struct Options: Equatable, CustomStringConvertible {
        var debug: Int32
        var noDelay: Int32
        var description: String { "SO_DEBUG=\(debug) TCP_NODELAY=\(noDelay)" }
    }

    static let wanted = Options(debug: 0, noDelay: 1)

    /// SO_DEBUG and TCP_NODELAY of one socket, as the kernel has them.
    static func options(of fd: Int32) -> Options? {
        var debug: Int32 = -1, noDelay: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_DEBUG, &debug, &length) == 0 else { return nil }
        length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &length) == 0 else { return nil }
        return Options(debug: debug, noDelay: noDelay != 0 ? 1 : 0)
    }

    /// The port of a socket's own (local) or peer address, if it is an IPv4 TCP socket.
    static func port(of fd: Int32, peer: Bool) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The descriptor in this process connected from `localPort` to `peerPort`, waiting up to 5 s
    /// for it to appear (an accept or connect may still be under way).
    static func socket(localPort: Int, peerPort: Int, within: Duration = .seconds(5)) async throws -> Int32? {
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) }
                ?? Array(0..<4_096)
            for fd in descriptors where port(of: fd, peer: false) == localPort && port(of: fd, peer: true) == peerPort {
                return fd
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// A listening IPv4 socket on 127.0.0.1, port chosen by the kernel.
    static func listener() throws -> (fd: Int32, port: Int) {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0, let port = port(of: fd, peer: false) else { close(fd); throw ListenFailed() }
        return (fd, port)
    }

    /// Accepts one connection within 30 s; returns the accepted socket and the client's port.
    static func accept(on listener: Int32) async throws -> (fd: Int32, clientPort: Int) {
        _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0, let clientPort = port(of: fd, peer: true) { return (fd, clientPort) }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw NoConnection()
    }

    struct ListenFailed: Error {}
    struct NoConnection: Error {}

    /// A server's accepted socket: a plain client connects, and the server's end is read back.
    private func acceptedSocketOptions(serverPort: Int) async throws -> Options? {
        let client = try #require(AbuseTests.connectedSocket(port: serverPort))
        defer { close(client) }
        let clientPort = try #require(Self.port(of: client, peer: false))
        let accepted = try #require(try await Self.socket(localPort: serverPort, peerPort: clientPort),
                                    "no accepted socket for the connection from port \(clientPort)")
        return Self.options(of: accepted)
    }

    @Test func storeServerAcceptsWithNoDelayAndWithoutSODebug() async throws {
        let dir = TestSupport.temporaryDirectory()
        defer { TestSupport.removeDirectory(dir) }
        let options = try await withStoreServer(directory: dir) { port, _ in try await acceptedSocketOptions(serverPort: port) }
        #expect(options == Self.wanted)
    }

    @Test func gatewayServerAcceptsWithNoDelayAndWithoutSODebug() async throws {
        let options = try await withStack { port, _ in try await acceptedSocketOptions(serverPort: port) }
        #expect(options == Self.wanted)
    }

    /// The store client (the gateway's `StoreClient`, and `epilogue-store --check`, which uses it).
    @Test func storeClientConnectsWithNoDelayAndWithoutSODebug() async throws {
        let (listener, port) = try Self.listener()
        defer { close(listener) }
        var logger = Logger(label: "socket-option-test")
        logger.logLevel = .critical
        let client = StoreClient(configuration: .init(host: "127.0.0.1", port: port, connections: 1), logger: logger)
        client.start()
        defer { client.shutdown() }
        // Nothing answers the client's HELLO, so it gives a connection up after its handshake
        // timeout and makes another: on a loaded machine the one accepted may be gone before it
        // is found. Then the next one is looked at (bounded).
        var found: Options?
        let deadline = ContinuousClock.now + .seconds(30)
        while found == nil && ContinuousClock.now < deadline {
            let (accepted, clientPort) = try await Self.accept(on: listener)
            if let client = try await Self.socket(localPort: clientPort, peerPort: port, within: .seconds(2)) {
                found = Self.options(of: client)
            }
            close(accepted)
        }
        #expect(found == Self.wanted, "the client's socket: \(found.map { "\($0)" } ?? "not found in this process within 30 s")")
    }

    /// `epilogue-bench load`, the benchmarks' client, lives in its executable: it is run as the
    /// unprivileged user against a gateway (a socket option only root may set would fail its
    /// every connection: exit status 2).
    @Test func benchLoadClientServesAsAnUnprivilegedUser() async throws {
        let (status, output) = try await withStack { port, _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = try Unprivileged.prefix() + [try Unprivileged.executable("epilogue-bench"), "load", "--port", "\(port)",
                                                             "--cmd", "PING", "--conns", "2", "--warmup", "0", "--duration", "0.3"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            let exited = AsyncStream<Int32>.makeStream()
            process.terminationHandler = { exited.continuation.yield($0.terminationStatus) }
            try process.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            var statuses = exited.stream.makeAsyncIterator()
            return (await statuses.next() ?? -1, String(decoding: output, as: UTF8.self))
        }
        #expect(status == 0, "epilogue-bench load exited with \(status):\n\(output.suffix(1_000))")
    }

    /// `epilogue-gateway --check`: a plain blocking socket that sends one line, so only SO_DEBUG
    /// matters (it sets no TCP_NODELAY, and needs none).
    @Test func gatewayProbeConnectsWithoutSODebug() async throws {
        let (listener, port) = try Self.listener()
        defer { close(listener) }
        let probe = Task.detached { await TextProbe.send("PING", host: "127.0.0.1", port: port, timeoutSeconds: 20) }
        let (accepted, clientPort) = try await Self.accept(on: listener)
        defer { close(accepted) }
        let client = try #require(try await Self.socket(localPort: clientPort, peerPort: port), "the probe's socket is not in this process")
        #expect(Self.options(of: client)?.debug == 0)
        // Answer, so the probe (blocking in read) finishes now.
        let answer = Array("OK PONG\r\n.\r\n".utf8)
        _ = Glibc.send(accepted, answer, answer.count, Int32(MSG_NOSIGNAL))
        #expect(await probe.value.firstLine == "OK PONG")
    }
}
