import ArgumentParser
import Dashboard
import DevLoop
import DevctlCore
import Foundation
import Stack

/// `devctl watch`: `up --watch`'s loop for a stack already running (`up -d`), driving its
/// supervisor through the dashboard's API; Ctrl-C stops watching, the stack keeps running.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Rebuild and restart what each change affects, for a stack already running.",
        discussion: """
            As devctl up --watch, beside a stack started without it: changes under Sources/, proto/,
            templates/, devctl.yaml and migration folders → gen, db migrate, one swift build at a
            time, restarts of the affected services only (a failed build changes nothing that
            runs). Talks to the stack's supervisor through its dashboard API (with the stack's
            token), so the dashboard shows the builds and can pause this watcher or ask it to build.
            Exit 1 when no stack runs, or another watcher already watches it.
            """
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let repository = try global.repository()
        let controller = StackController(config: repository.config, repositoryRoot: repository.root)
        guard controller.isSupervisorRunning, let state = controller.currentState(), state.phase == .running || state.phase == .starting else {
            throw DevctlFailure("no stack is running in \(repository.root)", hint: "devctl up -d starts one (devctl up --watch starts one and watches it)")
        }
        if let watcher = state.watch, watcher.watcherPID > 0, kill(watcher.watcherPID, 0) == 0 {
            throw DevctlFailure("the stack is already watched (pid \(watcher.watcherPID))",
                                hint: watcher.watcherPID == state.supervisorPID ? "it was started with devctl up --watch" : "stop that devctl watch first")
        }
        let stack = try DashboardClient(state: state, paths: controller.paths) { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        let executable = CommandLine.selfExecutable
        let planner = ChangePlanner(config: repository.config, targets: await WatchLoop.targets(repositoryRoot: repository.root))
        let settings = await WatchLoop.Settings.standard(repositoryRoot: repository.root, devctl: executable)
        let configFile = repository.root + "/" + (repository.config.source.file as NSString).lastPathComponent
        let loop = WatchLoop(supervisor: stack, planner: planner, repositoryRoot: repository.root, configFile: configFile, settings: settings)
        let signals = StopSignals()
        let watching = Task { try await loop.run() }
        let stopped = Task {
            await signals.next()
            watching.cancel()
        }
        // The stack this watches stopped, or another `up` replaced it: its token and its ids are
        // gone, so watching on would only fail; say so and end.
        let supervisor = state.supervisorPID
        let lost = Task { () -> Bool in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if !controller.isSupervisorRunning || controller.currentState()?.supervisorPID != supervisor {
                    watching.cancel()
                    return true
                }
            }
            return false
        }
        // Ends on a signal (run() returns once cancelled, having cleared its record) or an error.
        let result = await watching.result
        stopped.cancel()
        lost.cancel()
        if await lost.value {
            throw DevctlFailure("the stack this watched stopped (supervisor pid \(supervisor))", hint: "start it again (devctl up -d), then devctl watch")
        }
        try result.get()
    }
}
