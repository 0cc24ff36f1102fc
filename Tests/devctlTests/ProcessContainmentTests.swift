#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
import Stack
import TestSupport
import Testing

/// Nothing a stack starts outlives it: `command:` services, their background children, after
/// `down` and after the supervisor is killed with -9.
@Suite(.serialized) struct ProcessContainmentTests {
    /// A stack with one `command:` service whose shell leaves a `sleep` running in the background.
    static func makeStack() throws -> (root: String, port: Int) {
        let root = try TemporaryFolder.make()
        let ports = try FreePorts.take(3)
        let (postgres, port, edge) = (ports[0], ports[1], ports[2])
        try """
            version: 1
            postgres:
              port: \(postgres)
            edge:
              port: \(edge)
            services:
              forker:
                kind: rest
                port: \(port)
                command: [sh, -c, "sleep 300 & exec python3 -m http.server \(port) --bind 127.0.0.1"]
                health: {live: /, ready: /}
                expose: false
            """.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        return (root, port)
    }

    static func marked(_ root: String) -> [String] {
        StackMarker.processes(of: StackPaths(repositoryRoot: root).stackID).map(\.name)
    }

    static func sleepers(_ root: String) -> Int {
        StackMarker.processes(of: StackPaths(repositoryRoot: root).stackID).filter { entry in
            ((try? String(contentsOfFile: "/proc/\(entry.pid)/cmdline", encoding: .utf8)) ?? "").hasPrefix("sleep")
        }.count
    }

    static func waitUntil(_ timeout: Duration, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    @Test func aForkingCommandServiceLeavesNothingAfterDownOrAfterKill9() async throws {
        // A port chosen free can be taken by another test before `up` binds it: then try anew.
        var (root, _) = try Self.makeStack()
        var up = try await DevctlProcess.run(["up", "-d", "--timeout", "60"], in: root)
        for _ in 0..<2 where up.status != 0 && FreePorts.wasTaken(up.stderr) {
            TemporaryFolder.remove(root)
            (root, _) = try Self.makeStack()
            up = try await DevctlProcess.run(["up", "-d", "--timeout", "60"], in: root)
        }
        defer {
            _ = StackMarker.processes(of: StackPaths(repositoryRoot: root).stackID).map { kill($0.pid, SIGKILL) }
            TemporaryFolder.remove(root)
        }
        #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
        #expect(Self.sleepers(root) == 1, "the background sleep carries the stack's marker: \(Self.marked(root))")

        let down = try await DevctlProcess.run(["down", "--timeout", "3"], in: root)
        #expect(down.status == 0, "\(down.stderr)")
        #expect(await Self.waitUntil(.seconds(20)) { Self.marked(root).isEmpty }, "left after down: \(Self.marked(root))")

        // Again, and this time the supervisor dies without a chance to clean up.
        let again = try await DevctlProcess.run(["up", "-d", "--timeout", "60"], in: root)
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(Self.sleepers(root) == 1)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/.devctl/run/stack.json"))) as? [String: Any]
        let supervisor = try #require(state?["supervisorPID"] as? Int32)
        #expect(kill(supervisor, SIGKILL) == 0)
        #expect(await Self.waitUntil(.seconds(30)) { Self.marked(root).isEmpty }, "left after kill -9 of the supervisor: \(Self.marked(root))")
        let cleanup = try await DevctlProcess.run(["down", "--purge", "--yes", "--timeout", "3"], in: root)
        #expect(cleanup.status == 0, "\(cleanup.stderr)")
    }
}
