#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Answers "is this TCP port free?" and "who holds it?" for preflight checks and clear errors.
public enum PortProbe {
    /// True when nothing listens on `port` on loopback: we could bind it ourselves right now.
    public static func isFree(_ port: Int, host: String = "127.0.0.1") -> Bool {
        withSocket(port: port, host: host) { fd, address, length in
            var reuse: Int32 = 1
            // SO_REUSEADDR so a port in TIME_WAIT (just released) counts as free, as servers see it.
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            return bind(fd, address, length) == 0
        }
    }

    /// True when something accepts TCP connections on `host:port`.
    public static func isAccepting(_ port: Int, host: String = "127.0.0.1") -> Bool {
        withSocket(port: port, host: host) { fd, address, length in
            connect(fd, address, length) == 0
        }
    }

    /// Runs `body` with a fresh TCP socket and the IPv4 address `host:port`; closes the socket.
    private static func withSocket(
        port: Int, host: String, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// A port the kernel says is free now (for tests and ephemeral helpers).
    public static func ephemeralPort() -> Int? {
        guard let (descriptor, port) = bindEphemeral() else { return nil }
        close(descriptor)
        return port
    }

    /// A loopback TCP socket bound (not listening) to a port the kernel chose, and that port.
    /// The caller owns the descriptor: while it is open nothing else can bind the port, and
    /// connections to it are refused.
    public static func bindEphemeral() -> (descriptor: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// The process listening on `port`, when /proc lets us see it: "pid 1234 (postgres)".
    public static func holder(of port: Int) -> String? {
        let inodes = listeningSocketInodes(port: port)
        guard !inodes.isEmpty,
              let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc")
        else { return nil }
        for pid in pids where pid.allSatisfy(\.isNumber) {
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                      target.hasPrefix("socket:["),
                      inodes.contains(String(target.dropFirst(8).dropLast()))
                else { continue }
                let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
                return "pid \(pid) (\(name))"
            }
        }
        return nil
    }

    /// A sentence naming the port and, when known, its holder: for "port in use" errors.
    public static func describeHolder(of port: Int) -> String {
        if let holder = holder(of: port) { return "port \(port) is in use by \(holder)" }
        return "port \(port) is in use by another process"
    }

    private static func listeningSocketInodes(port: Int) -> Set<String> {
        var inodes = Set<String>()
        let hexPort = String(format: "%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // procfs reports size 0 and hands out a page per read: read until EOF.
            guard let handle = FileHandle(forReadingAtPath: table),
                  let data = try? handle.readToEnd() else { continue }
            try? handle.close()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // fields: sl local_address rem_address st ... inode(9)
                guard fields.count > 9, fields[3] == "0A" else { continue } // 0A = LISTEN
                if fields[1].hasSuffix(":" + hexPort) { inodes.insert(String(fields[9])) }
            }
        }
        return inodes
    }
}
