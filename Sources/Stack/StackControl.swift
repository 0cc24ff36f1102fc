import DevctlCore
import Foundation
import StackModel

/// What a file watcher needs from the stack it rebuilds: the supervisor itself under
/// `up --watch`, or the supervisor's dashboard API for `devctl watch` in another process.
public protocol StackControl: Sendable {
    /// A line in the stack's own voice (its log and console).
    func say(_ line: String) async
    func recordBuild(_ record: StackState.BuildRecord) async
    /// The watcher starts (a record) or ends (nil).
    func recordWatch(_ record: StackState.WatchRecord?) async
    /// What the dashboard asks of the watcher now (pause, builds).
    func watchRecord() async -> StackState.WatchRecord?
    /// Restarts `names` in order on `executable`; returns those not ready within `timeout`.
    func restartServices(_ names: [String], executable: String, timeout: Duration) async -> [String]
    /// The devctl copies services run now (nil: unknown, so none may be deleted).
    func buildsInUse() async -> Set<String>?
    /// Applies devctl.yaml as it is now on disk to the running stack.
    func applyConfigFile() async throws -> Supervisor.ConfigChange
    /// Runs a service's `build:` step again, then restarts it.
    func rebuildService(_ name: String) async throws
}

extension Supervisor: StackControl {
    public func buildsInUse() async -> Set<String>? {
        executablesInUse()
    }

    public func applyConfigFile() async throws -> ConfigChange {
        let shown = config.source.file
        let newConfig: StackConfig
        do {
            newConfig = try StackConfig.load(contentsOf: configFile, displayName: shown)
        } catch {
            throw DevctlFailure("\(shown) is invalid; the running stack is unchanged:\n\((error as? any UserFacingError)?.message ?? "\(error)")")
        }
        return try await apply(newConfig)
    }
}

