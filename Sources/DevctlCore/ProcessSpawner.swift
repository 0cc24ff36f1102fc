#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CProcessSpawn
import Foundation
import Synchronization

/// Starts child processes without leaking descriptors into them (see CProcessSpawn), and waits
/// for them with `waitpid`.
public enum ProcessSpawner {
    /// Children started here that their waiter has not reaped yet. The orphan reaper of a
    /// subreaper must never take their exit status; the lock is held across the fork so that a
    /// child that exits at once is registered before anyone can see it.
    private static let claimed = Mutex<Set<pid_t>>([])

    /// Starts `executable` and returns its pid. Negative descriptors mean /dev/null.
    public static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment extra: [String: String] = [:],
        inheritEnvironment: Bool = true,
        workingDirectory: String? = nil,
        user: String? = nil,
        newProcessGroup: Bool = false,
        parentDeathSignal: Int32 = 0,
        stdin: Int32 = -1,
        stdout: Int32 = -1,
        stderr: Int32 = -1
    ) throws -> pid_t {
        var environment = inheritEnvironment ? ProcessInfo.processInfo.environment : [:]
        for (key, value) in extra { environment[key] = value }
        var account: SystemUser?
        if let user {
            guard let found = SystemUser.named(user) else {
                throw DevctlFailure("cannot run \(executable) as user '\(user)': there is no such user")
            }
            account = found
            environment["HOME"] = NSHomeDirectoryForUser(user) ?? "/"
            environment["USER"] = user
            environment["LOGNAME"] = user
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let groups = account?.groups ?? []
        var pid: pid_t = 0
        let result: Int32 = groups.withUnsafeBufferPointer { groupBuffer in
            (workingDirectory ?? "").withCString { directory in
                var options = devctl_spawn_options(
                    working_directory: workingDirectory == nil ? nil : directory,
                    stdin_fd: stdin, stdout_fd: stdout, stderr_fd: stderr,
                    new_process_group: newProcessGroup ? 1 : 0,
                    parent_death_signal: parentDeathSignal,
                    uid: account?.uid ?? uid_t.max, gid: account?.gid ?? gid_t.max,
                    groups: groupBuffer.baseAddress, group_count: Int32(groupBuffer.count)
                )
                return claimed.withLock { claimed in
                    let result = devctl_spawn(executable, argv, envp, &options, &pid)
                    if result == 0 { claimed.insert(pid) }
                    return result
                }
            }
        }
        guard result == 0 else {
            throw DevctlFailure("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Blocks until `pid` exits; returns its exit status, or 128 + signal if a signal killed it.
    public static func wait(for pid: pid_t) -> Int32 {
        var status: Int32 = 0
        defer { _ = claimed.withLock { $0.remove(pid) } }
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Reaps `pid` unless a ``wait(for:)`` owns it (see ``OrphanReaper``).
    static func reapIfUnclaimed(_ pid: pid_t) {
        claimed.withLock { claimed in
            guard !claimed.contains(pid) else { return }
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
    }
}
