import ConnectRPC
import DevctlCore
import Foundation
import Testing

/// The h2c connection itself: client PINGs (bandwidth probes, liveness checks) are answered and
/// never cost a busy client its connection; a PING flood is cut with GOAWAY ENHANCE_YOUR_CALM.
@Suite struct HTTP2ConnectionTests {
    /// CI saw grpcio's deadline call fail UNAVAILABLE "Socket closed": Hummingbird's connection
    /// manager closed the connection on grpcio's third PING within 30 s.
    @Test func aBusyGRPCClientKeepsItsConnection() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        try await withGreeterServer { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/busy_grpc_client.py", stubs, "127.0.0.1:\(port)", "8", "20"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let outcomes = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Int], "\(output.stderr)")
            // Every call is either answered or cut by its own deadline: nothing lost to the transport.
            #expect(Set(outcomes.keys).isSubset(of: ["OK", "DEADLINE_EXCEEDED"]), "\(outcomes)")
            #expect(outcomes.values.reduce(0, +) == 160, "\(outcomes)")
            #expect((outcomes["OK"] ?? 0) >= 64, "the answered calls (Ada, big) all succeed: \(outcomes)")
        }
    }

    @Test func pingsAreAnsweredAndAFloodIsCut() async throws {
        try await withGreeterServer { port in
            let burst = try await pings(port: port, count: 60)
            #expect(burst["acks"] as? Int == 60, "\(burst)")
            #expect(burst["goaway_error"] is NSNull, "\(burst)")

            let flood = try await pings(port: port, count: 2000)
            #expect(flood["goaway_error"] as? Int == 11, "ENHANCE_YOUR_CALM: \(flood)")
            // Ours says why; NIOHTTP2's own guard (too many unread PING acks queued) says nothing.
            #expect(["too_many_pings", ""].contains(flood["goaway_debug"] as? String ?? "missing"), "\(flood)")
            #expect((flood["acks"] as? Int ?? 0) < 2000, "\(flood)")
        }
    }

    private func pings(port: Int, count: Int) async throws -> [String: Any] {
        let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/h2_pings.py", "127.0.0.1", "\(port)", "\(count)"]).output()
        #expect(output.status == 0, "\(output.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Any], "\(output.stderr)")
    }
}
