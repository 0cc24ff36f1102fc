#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
import Testing

@Suite struct SubprocessTests {
    @Test func capturesBothStreamsAndTheStatus() async throws {
        let output = try await Subprocess("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"]).output()
        #expect(output.status == 3)
        #expect(output.stdout == "out\n")
        #expect(output.stderr == "err\n")
    }

    @Test func runThrowsWithTheCommandAndItsErrorOutput() async throws {
        let error = await #expect(throws: DevctlFailure.self) {
            try await Subprocess("/bin/sh", ["-c", "echo broken >&2; exit 1"]).run()
        }
        #expect(error?.message.contains("failed (exit 1)") == true)
        #expect(error?.message.contains("broken") == true)
    }

    @Test func aDaemonStartedByTheChildDoesNotHoldUsUp() async throws {
        // pg_ctl start leaves postgres running with its output redirected to a log; we must return
        // when pg_ctl exits, not when the daemon does (it would, had it inherited a pipe of ours
        // through a descriptor other than stdout/stderr).
        // Checked by order, not by a clock: when output() returns, the daemon still runs.
        let output = try await Subprocess("/bin/sh", ["-c", "sleep 300 >/dev/null 2>&1 & echo $!"]).output()
        let daemon = try #require(Int32(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(daemon, SIGKILL) }
        #expect(kill(daemon, 0) == 0, "output() waited for the daemon to end")
    }

    @Test func onlyStandardStreamsAreInherited() async throws {
        let output = try await Subprocess("/bin/sh", ["-c", "ls /proc/self/fd"]).output()
        let descriptors = output.stdout.split(separator: "\n").compactMap { Int($0) }
        // 0, 1, 2 and the descriptor `ls` opens to read the folder.
        #expect(descriptors.filter { $0 > 3 }.isEmpty, "inherited: \(descriptors)")
    }

    @Test func environmentAndWorkingDirectoryApply() async throws {
        let output = try await Subprocess("/bin/sh", ["-c", "echo $DEVCTL_PROBE; pwd"],
                                          environment: ["DEVCTL_PROBE": "yes"], workingDirectory: "/tmp").output()
        #expect(output.stdout == "yes\n/tmp\n")
    }

    @Test func missingProgramIsAClearError() async throws {
        let error = await #expect(throws: DevctlFailure.self) { try await Subprocess("/nonexistent/tool").output() }
        #expect(error?.message == "cannot start /nonexistent/tool: No such file or directory")
    }

    @Test(.enabled(if: SystemUser.isRoot, "switching users needs root"))
    func runsAsAnotherUser() async throws {
        let output = try await Subprocess("/usr/bin/id", ["-un"], user: "postgres").output()
        #expect(output.stdout == "postgres\n")
    }
}
