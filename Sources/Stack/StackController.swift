#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Database
import DevctlCore
import Foundation
import Logging
import StackModel

/// `down`, `status`, `logs` and the detached half of `up`: everything that looks at a stack
/// from outside its supervisor, through `.devctl/run/stack.json` and the stack lock.
public struct StackController: Sendable {
    public let config: StackConfig
    public let repositoryRoot: String
    public let paths: StackPaths

    public init(config: StackConfig, repositoryRoot: String) {
        self.config = config
        self.repositoryRoot = repositoryRoot
        paths = StackPaths(repositoryRoot: repositoryRoot)
    }

    /// The supervisor holds the stack lock for as long as it lives.
    public var isSupervisorRunning: Bool { FileLock.isHeld(at: paths.lockFile) }

    /// The last published state, with every process shown stopped when no supervisor runs.
    public func currentState() -> StackState? {
        guard var state = StackState.read(from: paths.stateFile) else { return nil }
        if !isSupervisorRunning, state.phase != .failed {
            state.phase = .stopped
            for index in state.processes.indices where state.processes[index].state != .failed {
                state.processes[index].state = .stopped
            }
        }
        return state
    }

    // MARK: Detached up

    /// Starts `devctl up --supervise …` in the background (own process group, output to
    /// `.devctl/logs/supervisor.log`) and returns its pid.
    public func launchSupervisor(executable: String, arguments: [String]) throws -> pid_t {
        if isSupervisorRunning { throw StackRunning.error(paths: paths) }
        try paths.createDirectories()
        let log = open(paths.supervisorLog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw DevctlFailure("cannot write \(paths.supervisorLog): \(String(cString: strerror(errno)))") }
        defer { close(log) }
        return try ProcessSpawner.spawn(executable, arguments, workingDirectory: repositoryRoot, newProcessGroup: true, stdout: log, stderr: log)
    }

    /// Waits for the detached supervisor `pid` to report the stack running or failed.
    /// `progress` sees every state published meanwhile (for a terminal's per-service lines).
    public func waitForSupervisor(_ pid: pid_t, timeout: Duration, progress: (StackState) -> Void = { _ in }) async throws -> StackState {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let state = StackState.read(from: paths.stateFile), state.supervisorPID == pid {
                progress(state)
                switch state.phase {
                case .running:
                    return state
                case .failed, .stopped:
                    throw DevctlFailure(state.failure ?? "the stack stopped before it was ready", hint: "devctl logs shows what the processes printed")
                default:
                    break
                }
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // It ended without publishing a result: its own log says why.
                if let state = StackState.read(from: paths.stateFile), state.supervisorPID == pid, let failure = state.failure {
                    throw DevctlFailure(failure, hint: "devctl logs shows what the processes printed")
                }
                let lines = LogReader.tail(path: paths.supervisorLog, lines: 20).joined(separator: "\n  ")
                throw DevctlFailure("the stack supervisor exited before the stack was ready:\n  \(lines)")
            }
            guard ContinuousClock.now < deadline else {
                throw DevctlFailure("the stack did not report ready within \(timeout)", hint: "devctl status shows what is still starting; devctl down stops it")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: Down

    /// What `down` did.
    public struct DownReport: Sendable, Codable {
        public var supervisorStopped: Bool
        /// Processes left behind (supervisor killed) that `down` stopped itself.
        public var leftoversStopped: [String]
        public var postgresStopped: Bool
        public var purged: Bool
    }

    /// Stops the stack: asks the supervisor (which stops the edge, services in reverse order,
    /// then PostgreSQL); cleans up what a killed supervisor left; stops the embedded PostgreSQL.
    public func down(timeout: Duration = .seconds(10), purge: Bool = false, databaseURL: String? = nil, logger: Logger) async throws -> DownReport {
        var report = DownReport(supervisorStopped: false, leftoversStopped: [], postgresStopped: false, purged: false)
        let state = StackState.read(from: paths.stateFile)
        if isSupervisorRunning, let state {
            kill(state.supervisorPID, SIGTERM)
            let deadline = ContinuousClock.now.advanced(by: timeout * max(1, state.processes.count) + .seconds(30))
            while isSupervisorRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            if isSupervisorRunning {
                kill(state.supervisorPID, SIGKILL)
                while isSupervisorRunning { try await Task.sleep(for: .milliseconds(10)) }
            }
            report.supervisorStopped = true
        }
        // Whatever is still alive from the last run (a supervisor killed with -9 whose guard
        // could not finish, a service that forked a daemon): every process carrying this
        // stack's marker, whatever its parent or process group now, `command:` services and
        // their children included.
        report.leftoversStopped = await StackMarker.stopAll(of: paths.stackID, grace: timeout)
        let database = try DatabaseManager(config: config, repositoryRoot: repositoryRoot, databaseURL: databaseURL, logger: logger)
        if let embedded = database.embedded {
            report.postgresStopped = try await embedded.stop()
            if purge {
                try await embedded.purge()
                report.purged = true
            }
        }
        if var state {
            state.phase = .stopped
            for index in state.processes.indices {
                state.processes[index].pid = nil
                if state.processes[index].state != .failed { state.processes[index].state = .stopped }
            }
            try? state.write(to: paths.stateFile)
        }
        return report
    }
}
