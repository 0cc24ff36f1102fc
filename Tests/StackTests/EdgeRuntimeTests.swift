#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
@testable import Stack
import StackModel
import Testing

/// The rendered config running in a real HAProxy, against backends that are down.
@Suite struct EdgeRuntimeTests {
    @Test func backendThatIsDownAnswers503QuicklyAndUnknownPaths404() async throws {
        let haproxy = try #require(Subprocess.findExecutable("haproxy", extraDirectories: ["/usr/sbin"]), "haproxy is not installed")
        let edgePort = try #require(PortProbe.ephemeralPort())
        let deadPort = try #require(PortProbe.ephemeralPort())
        let model = RouteModel(
            port: edgePort,
            routes: [.init(service: "greeter", pathPrefix: "/greeter.v1.GreeterService", port: deadPort, middlewares: [.rateLimit], readinessPath: "/readyz")],
            cors: .init(allowedOrigins: []), rateLimit: .init(), tokenIssuer: nil
        )
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString).cfg").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try EdgeConfig(model: model).render().write(toFile: file, atomically: true, encoding: .utf8)
        let pid = try ProcessSpawner.spawn(haproxy, ["-f", file, "-db"], stdout: -1, stderr: -1)
        defer {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.wait(for: pid)
        }
        let started = ContinuousClock.now
        while !PortProbe.isAccepting(edgePort), ContinuousClock.now - started < .seconds(15) { try await Task.sleep(for: .milliseconds(20)) }
        // Health checks (every 1 s, down after 2 failures) mark the backend down; until then a
        // request waits for HAProxy's connect retries (≤ ~2 s), never hangs; after, the edge
        // answers 503 at once with a Connect-style body.
        let clock = ContinuousClock()
        var fastRefusal = false
        let deadline = clock.now.advanced(by: .seconds(15))
        while !fastRefusal, clock.now < deadline {
            let sent = clock.now
            let reply = try await Self.get(port: edgePort, path: "/greeter.v1.GreeterService/Greet")
            let took = clock.now - sent
            #expect(took < .seconds(5), "a request to a down backend took \(took)")
            #expect(reply.status == 503 && reply.body.contains(#""code":"unavailable""#), "\(reply)")
            fastRefusal = reply.status == 503 && took < .seconds(1)
            if !fastRefusal { try await Task.sleep(for: .milliseconds(250)) }
        }
        #expect(fastRefusal)
        let unknown = try await Self.get(port: edgePort, path: "/nowhere")
        #expect(unknown.status == 404 && unknown.body.contains(#""code":"not_found""#))
        #expect(try await Self.get(port: edgePort, path: EdgeConfig.healthPath).status == 200)
    }

    /// A minimal HTTP/1.0 GET over a socket (no client library needed for two requests).
    static func get(port: Int, path: String) async throws -> (status: Int, body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw DevctlFailure("cannot connect to the edge on \(port)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        return (status, text.components(separatedBy: "\r\n\r\n").dropFirst().joined())
    }
}
