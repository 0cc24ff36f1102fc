#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CProcessSpawn
import Foundation

/// The live processes as Linux's /proc shows them: enough to find every member of a process
/// group, and every process a stack started (by the marker in its environment), whoever its
/// parent is now.
public enum ProcessTable {
    /// One process.
    public struct Entry: Sendable, Equatable {
        public var pid: pid_t
        public var parentPID: pid_t
        public var processGroup: pid_t
        /// `R`, `S`, `Z` (zombie) …
        public var state: Character
        public var isZombie: Bool { state == "Z" }
    }

    /// Every process, zombies included.
    public static func entries() -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { pid_t($0) }.compactMap(entry)
    }

    /// `/proc/PID/stat`: the fields after the command name (which may hold spaces and parens).
    public static func entry(_ pid: pid_t) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let state = fields[0].first, let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return Entry(pid: pid, parentPID: parent, processGroup: group, state: state)
    }

    /// Live (not zombie) members of process group `group`.
    public static func members(ofGroup group: pid_t) -> [pid_t] {
        entries().filter { $0.processGroup == group && !$0.isZombie }.map(\.pid)
    }

    /// The value of `variable` in the environment `pid` started with, if it has one.
    public static func environmentValue(_ variable: String, of pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        let prefix = Array((variable + "=").utf8)
        for entry in data.split(separator: 0) where entry.starts(with: prefix) {
            return String(decoding: entry.dropFirst(prefix.count), as: UTF8.self)
        }
        return nil
    }

    /// Live processes (not this one) whose environment has `variable=value`.
    public static func processes(withEnvironment variable: String, equalTo value: String) -> [Entry] {
        let me = getpid()
        return entries().filter { !$0.isZombie && $0.pid != me && environmentValue(variable, of: $0.pid) == value }
    }
}

/// An orphan's last parent: a supervisor that is a child subreaper (`PR_SET_CHILD_SUBREAPER`)
/// inherits the processes its children leave behind (a shell's background job), so they stay
/// inside the stack instead of escaping to init; this reaps them when they exit.
public enum OrphanReaper {
    /// Makes this process the subreaper of its descendants (Linux; elsewhere a no-op).
    public static func becomeSubreaper() {
        _ = devctl_become_subreaper()
    }

    /// Reaps exited children that nobody waits for: inherited orphans. Children started through
    /// ``ProcessSpawner`` are left to their own waiter.
    public static func reapOrphans() {
        let me = getpid()
        for entry in ProcessTable.entries() where entry.parentPID == me && entry.isZombie {
            ProcessSpawner.reapIfUnclaimed(entry.pid)
        }
    }
}
