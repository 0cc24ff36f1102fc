import DevctlCore
import Foundation

/// A loaded `devctl.yaml` and the repository it belongs to.
public struct StackRepository: Sendable {
    /// The folder holding devctl.yaml: every relative path in it is relative to this folder.
    public var root: String
    public var config: StackConfig

    /// Finds devctl.yaml (`explicitPath`, else `$DEVCTL_CONFIG`, else the nearest one in the
    /// current folder or above, as git finds .git) and loads it.
    public static func discover(explicitPath: String? = nil, from directory: String = FileManager.default.currentDirectoryPath) throws -> StackRepository {
        let environmentPath = ProcessInfo.processInfo.environment["DEVCTL_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        if let path = explicitPath ?? environmentPath {
            let absolute = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory)).standardizedFileURL
            let config = try StackConfig.load(contentsOf: absolute.path, displayName: path)
            return StackRepository(root: absolute.deletingLastPathComponent().path, config: config)
        }
        var current = URL(fileURLWithPath: directory).standardizedFileURL
        while true {
            let candidate = current.appendingPathComponent(StackConfig.fileName).path
            if FileManager.default.fileExists(atPath: candidate) {
                let config = try StackConfig.load(contentsOf: candidate, displayName: displayName(of: candidate, from: directory))
                return StackRepository(root: current.path, config: config)
            }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { break }
            current = parent
        }
        throw DevctlFailure(
            "no \(StackConfig.fileName) in \(directory) or any folder above it",
            hint: "run devctl inside the repository, or pass --config PATH",
            exitCode: 2
        )
    }

    /// The config path as the user would write it from `directory`.
    private static func displayName(of path: String, from directory: String) -> String {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        if path.hasPrefix(base + "/") { return String(path.dropFirst(base.count + 1)) }
        return path
    }
}
