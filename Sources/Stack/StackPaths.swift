import Foundation

/// Where a running stack keeps its state, under the repository's `.devctl/`.
public struct StackPaths: Sendable {
    public let root: String

    public init(repositoryRoot: String) {
        root = repositoryRoot + "/.devctl"
    }

    /// Names this repository's stack in its processes' environment (``StackMarker``): stable for
    /// the checkout, different for another one on the same machine.
    public var stackID: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a: short and dependency-free
        for byte in root.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// Copies of the devctl binary that running stacks execute (see ``Supervisor``).
    public var binaryDirectory: String { runDirectory + "/bin" }

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
        for directory in [runDirectory, logDirectory, edgeDirectory, binaryDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }
}
