import Foundation

/// Where a running stack keeps its state, under the repository's `.devctl/`.
public struct StackPaths: Sendable {
    public let root: String

    public init(repositoryRoot: String) {
        root = repositoryRoot + "/.devctl"
    }

    public var runDirectory: String { root + "/run" }
    public var logDirectory: String { root + "/logs" }
    public var edgeDirectory: String { root + "/edge" }
    /// The supervisor's state: processes, pids, states (JSON, replaced atomically).
    public var stateFile: String { runDirectory + "/stack.json" }
    /// Held by the supervisor for its lifetime: one stack per repository.
    public var lockFile: String { runDirectory + "/stack.lock" }
    public var edgeConfigFile: String { edgeDirectory + "/haproxy.cfg" }
    public var supervisorLog: String { logDirectory + "/supervisor.log" }

    public func logFile(for name: String) -> String { logDirectory + "/\(name).log" }

    func createDirectories() throws {
        for directory in [runDirectory, logDirectory, edgeDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }
}
