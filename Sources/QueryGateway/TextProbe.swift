import EpilogueShared
import Foundation

/// Sends one text command to a gateway over a plain blocking socket and reads its answer up to
/// the `.` line. Used by `epilogue-gateway --check`; kept free of NIO so a healthcheck starts fast.
public enum TextProbe {
    public struct Answer: Sendable {
        public var lines: [String]
        public var firstLine: String { lines.first ?? "FAIL no answer" }
    }

    public static func send(_ command: String, host: String, port: Int, timeoutSeconds: Int = 3) async -> Answer {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            return Answer(lines: ["FAIL cannot resolve \(host)"])
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { return Answer(lines: ["FAIL socket: \(String(cString: strerror(errno)))"]) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            return Answer(lines: ["FAIL connect \(host):\(port): \(String(cString: strerror(errno)))"])
        }
        let request = Array((command + "\n").utf8)
        guard write(fd, request, request.count) == request.count else { return Answer(lines: ["FAIL write"]) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !received.ends(with: Array("\r\n.\r\n".utf8)) {
            let n = read(fd, &chunk, chunk.count)
            guard n > 0 else { break }
            received += chunk[0..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        return Answer(lines: text.components(separatedBy: "\r\n").filter { !$0.isEmpty })
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
