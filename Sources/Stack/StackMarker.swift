#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DevctlCore
import Foundation

/// How a stack finds every process it started, whatever became of their parents and process
/// groups: each service and the edge start with `DEVCTL_STACK_ID` (this checkout's stack) and
/// `DEVCTL_PROCESS` (its name) in their environment, and everything they start inherits them.
/// PostgreSQL is started without them: it outlives a stack on purpose (`down` stops it).
public enum StackMarker {
    public static let stackVariable = "DEVCTL_STACK_ID"
    public static let processVariable = "DEVCTL_PROCESS"

    /// The marked processes of stack `stackID` that are alive, with their names.
    public static func processes(of stackID: String) -> [(pid: pid_t, name: String, group: pid_t)] {
        ProcessTable.processes(withEnvironment: stackVariable, equalTo: stackID).map { entry in
            (entry.pid, ProcessTable.environmentValue(processVariable, of: entry.pid) ?? "pid \(entry.pid)", entry.processGroup)
        }
    }

    /// Stops every marked process of `stackID`: SIGTERM to each one's process group and to it,
    /// then SIGKILL to whatever is left after `grace`. Returns the names it stopped.
    @discardableResult
    public static func stopAll(of stackID: String, grace: Duration) async -> [String] {
        let found = processes(of: stackID)
        guard !found.isEmpty else { return [] }
        for process in found {
            kill(-process.group, SIGTERM)
            kill(process.pid, SIGTERM)
        }
        let deadline = ContinuousClock.now.advanced(by: grace)
        while !processes(of: stackID).isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for process in processes(of: stackID) {
            kill(-process.group, SIGKILL)
            kill(process.pid, SIGKILL)
        }
        var names: [String] = []
        for name in found.map(\.name) where !names.contains(name) { names.append(name) }
        return names
    }
}

/// The supervisor's dead-man switch: a small process (`devctl stack-guard ID`) that holds the
/// read end of a pipe whose write end only the supervisor has. When the supervisor ends, however
/// it ends (`kill -9` included), the pipe closes and the guard stops every marked process of the
/// stack, grandchildren that a parent-death signal would never reach among them.
public enum StackGuard {
    /// Starts the guard for `stackID` with `executable`; keeps the pipe's write end open in this
    /// process for as long as it lives.
    static func start(executable: String, stackID: String, log: Int32) throws {
        let (readEnd, writeEnd) = try makeCloseOnExecPipe()
        defer { close(readEnd) }
        do {
            let pid = try ProcessSpawner.spawn(executable, ["stack-guard", stackID], newProcessGroup: true, stdin: readEnd, stdout: log, stderr: log)
            Subprocess.onOwnThread { _ = ProcessSpawner.wait(for: pid) }
        } catch {
            close(writeEnd)
            throw error
        }
        // writeEnd stays open (close-on-exec, so no child inherits it) until this process exits.
    }

    /// The guard's own body: waits for its standard input to close, then stops the stack.
    public static func run(stackID: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Subprocess.onOwnThread {
                var byte: UInt8 = 0
                while true {
                    let count = read(0, &byte, 1)
                    if count == 0 || (count < 0 && errno != EINTR) { break }
                }
                continuation.resume()
            }
        }
        await StackMarker.stopAll(of: stackID, grace: .seconds(5))
    }
}
