#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
import Logging
@testable import Stack
import StackModel
import TestSupport
import Testing

/// The supervisor's promises, each on its own, with small `sh` and `python3` children (no
/// PostgreSQL: none of these services has a database, so none is started).
@Suite struct SupervisorTests {
    /// A throw-away repository whose devctl.yaml has the given services (YAML under `services:`).
    struct Harness {
        let root: String
        let ports: [Int]

        init(ports count: Int = 2, services: ([Int]) -> String) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-sup-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let ports = try FreePorts.take(count + 2)
            self.ports = ports
            try """
                version: 1
                postgres:
                  port: \(ports[count])
                edge:
                  port: \(ports[count + 1])
                services:
                \(services(ports))
                """.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        }

        func supervisor(maxRestarts: Int = 10, stopTimeout: Duration = .seconds(5), readyTimeout: Duration = .seconds(30)) throws -> Supervisor {
            var options = StackOptions(detached: true, readyTimeout: readyTimeout, maxRestarts: maxRestarts, stopTimeout: stopTimeout, executable: "/bin/true")
            options.firstRestartDelay = .milliseconds(100)
            var logger = Logger(label: "supervisor-test")
            logger.logLevel = .critical
            return try Supervisor(config: StackConfig.load(contentsOf: root + "/devctl.yaml"), repositoryRoot: root, options: options, console: nil, logger: logger)
        }

        func lines(_ file: String) -> [String] {
            ((try? String(contentsOfFile: root + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Waits until `condition` holds, up to `timeout` (never a bare sleep).
    static func eventually(_ timeout: Duration = .seconds(30), _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    static func server(_ port: Int) -> String { "exec python3 -m http.server \(port) --bind 127.0.0.1" }

    @Test func aCrashLoopBacksOffDoublingThenIsMarkedFailed() async throws {
        let harness = try Harness(ports: 1) { ports in
            """
              crasher:
                kind: rest
                port: \(ports[0])
                command: [sh, -c, "date +%s.%N >> starts.txt; exit 3"]
                health: {live: /, ready: /}
                expose: false
            """
        }
        defer { harness.remove() }
        // A long ready timeout: the start ends as soon as the process is marked failed.
        let supervisor = try harness.supervisor(maxRestarts: 3, readyTimeout: .seconds(180))
        await #expect(throws: DevctlFailure.self) { try await supervisor.start() }
        let record = await supervisor.snapshot.process(named: "crasher")
        #expect(record?.state == .failed)
        #expect(record?.restarts == 3)
        #expect(record?.lastExit == 3)
        // Four runs; the waits between them at least 100, 200, 400 ms (the backoff was applied).
        let starts = harness.lines("starts.txt").compactMap(Double.init)
        #expect(starts.count == 4, "\(starts)")
        let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
        for (gap, minimum) in zip(gaps, [0.1, 0.2, 0.4]) {
            #expect(gap >= minimum * 0.95, "gaps \(gaps)")
        }
    }

    @Test func servicesStartOnlyOnceWhatTheyDependOnIsReady() async throws {
        let harness = try Harness(ports: 2) { ports in
            """
              slow:
                kind: rest
                port: \(ports[0])
                command: [sh, -c, "sleep 1; date +%s.%N > slow-listening.txt; \(Self.server(ports[0]))"]
                health: {live: /, ready: /}
                expose: false
              dependent:
                kind: rest
                port: \(ports[1])
                depends_on: [slow]
                command: [sh, -c, "date +%s.%N > dependent-started.txt; \(Self.server(ports[1]))"]
                health: {live: /, ready: /}
                expose: false
            """
        }
        defer { harness.remove() }
        let supervisor = try harness.supervisor(readyTimeout: .seconds(180))
        try await supervisor.start()
        let listening = try #require(harness.lines("slow-listening.txt").first.flatMap(Double.init))
        let started = try #require(harness.lines("dependent-started.txt").first.flatMap(Double.init))
        #expect(started > listening, "dependent started before slow was ready")
        await supervisor.shutdown()
    }

    @Test func aProcessThatIgnoresSIGTERMIsKilledAfterTheStopTimeoutWithItsGroup() async throws {
        let harness = try Harness(ports: 1) { ports in
            """
              stubborn:
                kind: rest
                port: \(ports[0])
                command: [sh, -c, "trap '' TERM; sleep 300 & \(Self.server(ports[0]))"]
                health: {live: /, ready: /}
                expose: false
            """
        }
        defer { harness.remove() }
        let supervisor = try harness.supervisor(stopTimeout: .milliseconds(500), readyTimeout: .seconds(180))
        try await supervisor.start()
        let pid = try #require(await supervisor.snapshot.process(named: "stubborn")?.pid)
        #expect(ProcessTable.members(ofGroup: pid).count >= 2) // the server and its background sleep
        await supervisor.shutdown()
        #expect(ProcessTable.members(ofGroup: pid).isEmpty, "left in the group: \(ProcessTable.members(ofGroup: pid))")
        #expect(await supervisor.snapshot.process(named: "stubborn")?.lastExit == 128 + SIGKILL)
    }

    @Test func aServiceThatNeverBecomesReadyFailsTheStartNamingIt() async throws {
        let harness = try Harness(ports: 1) { ports in
            """
              mute:
                kind: rest
                port: \(ports[0])
                command: [sh, -c, "sleep 300"]
                health: {live: /, ready: /}
                expose: false
            """
        }
        defer { harness.remove() }
        let supervisor = try harness.supervisor(stopTimeout: .milliseconds(500), readyTimeout: .seconds(3))
        let error = await #expect(throws: DevctlFailure.self) { try await supervisor.start() }
        #expect(error?.message.contains("mute (port \(harness.ports[0])) did not become ready within 3 s") == true, "\(error?.message ?? "")")
        #expect(await supervisor.snapshot.phase == .failed)
    }

    @Test func aServiceThatDiesAtStartIsReportedWithItsExitAndLastLines() async throws {
        let harness = try Harness(ports: 1) { ports in
            """
              doomed:
                kind: rest
                port: \(ports[0])
                command: [sh, -c, "echo 'cannot open config.toml'; exit 7"]
                health: {live: /, ready: /}
                expose: false
            """
        }
        defer { harness.remove() }
        let supervisor = try harness.supervisor(maxRestarts: 0, readyTimeout: .seconds(180))
        let error = await #expect(throws: DevctlFailure.self) { try await supervisor.start() }
        let message = error?.message ?? ""
        #expect(message.contains("doomed (port \(harness.ports[0])) did not become ready"), "\(message)")
        #expect(message.contains("last exit status 7"), "\(message)")
        // The output is in the report: the exit is handled only once the log has it.
        #expect(message.contains("cannot open config.toml"), "\(message)")
    }
}
