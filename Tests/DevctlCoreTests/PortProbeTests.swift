#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
import Testing

@Suite struct PortProbeTests {
    @Test func aListeningPortIsTakenAndItsHolderNamed() throws {
        let port = try #require(PortProbe.ephemeralPort())
        #expect(PortProbe.isFree(port))
        #expect(!PortProbe.isAccepting(port))

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(bound == 0)
        #expect(listen(fd, 4) == 0)

        #expect(!PortProbe.isFree(port))
        #expect(PortProbe.isAccepting(port))
        #expect(PortProbe.describeHolder(of: port) == "port \(port) is in use by pid \(getpid()) (\(processName()))")
    }

    private func processName() -> String {
        (try? String(contentsOfFile: "/proc/self/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
    }
}
