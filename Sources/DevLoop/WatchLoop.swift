import DevctlCore
import Foundation
import Stack
import StackModel

/// `devctl up --watch`: file changes → one plan per burst → `gen`, `db migrate`, one incremental
/// build at a time (changes during a build queue one more) → the affected services restarted, in
/// dependency order, on a copy of the new binary. A failed build changes nothing that runs: the
/// old processes keep serving, and its errors are shown and published (`status --json`) until a
/// build succeeds.
public actor WatchLoop {
    /// How the loop builds and where the built devctl lands.
    public struct Settings: Sendable {
        /// The build command, run from the repository root (`swift build --product devctl`).
        public var buildCommand: [String]
        /// The devctl binary the build writes.
        public var builtBinary: String
        /// The devctl that runs `gen` and `db migrate`.
        public var devctl: String
        public var quiet: Duration = .milliseconds(150)
        public var maxWait: Duration = .seconds(2)

        public init(buildCommand: [String], builtBinary: String, devctl: String) {
            self.buildCommand = buildCommand
            self.builtBinary = builtBinary
            self.devctl = devctl
        }

        /// `swift build --product devctl` (or `DEVCTL_WATCH_BUILD`, a shell command, with the
        /// binary it builds in `DEVCTL_WATCH_BINARY`: tests use a fast fake build).
        public static func standard(repositoryRoot: String, devctl: String) async -> Settings {
            let environment = ProcessInfo.processInfo.environment
            if let command = environment["DEVCTL_WATCH_BUILD"], !command.isEmpty {
                return Settings(buildCommand: ["/bin/sh", "-c", command], builtBinary: environment["DEVCTL_WATCH_BINARY"] ?? devctl, devctl: devctl)
            }
            let swift = Subprocess.findExecutable("swift") ?? "swift"
            let binPath = (try? await Subprocess(swift, ["build", "--show-bin-path"], workingDirectory: repositoryRoot).output().stdout)?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? repositoryRoot + "/.build/debug"
            return Settings(buildCommand: [swift, "build", "--product", "devctl"], builtBinary: binPath + "/devctl", devctl: devctl)
        }
    }

    let supervisor: Supervisor
    let planner: ChangePlanner
    let repositoryRoot: String
    let settings: Settings
    let binaryDirectory: String
    private var debouncer: Debouncer
    private var generation = 0

    public init(supervisor: Supervisor, planner: ChangePlanner, repositoryRoot: String, settings: Settings) {
        self.supervisor = supervisor
        self.planner = planner
        self.repositoryRoot = repositoryRoot
        self.settings = settings
        binaryDirectory = StackPaths(repositoryRoot: repositoryRoot).binaryDirectory
        debouncer = Debouncer(quiet: settings.quiet, maxWait: settings.maxWait)
    }

    /// The package's targets from `swift package describe` (the planner's map of what depends on
    /// what); without a package (a stack of `command:` services) none.
    public static func targets(repositoryRoot: String) async -> [BuildTarget] {
        guard FileManager.default.fileExists(atPath: repositoryRoot + "/Package.swift"), let swift = Subprocess.findExecutable("swift"),
              let output = try? await Subprocess(swift, ["package", "describe", "--type", "json"], workingDirectory: repositoryRoot).output(),
              output.succeeded,
              let json = try? JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Any],
              let targets = json["targets"] as? [[String: Any]] else { return [] }
        return targets.compactMap { target in
            guard let name = target["name"] as? String, let path = target["path"] as? String else { return nil }
            return BuildTarget(name: name, path: path, dependencies: target["target_dependencies"] as? [String] ?? [])
        }
    }

    /// Watches until the task is cancelled.
    public func run() async throws {
        let watcher = try FileWatcher(root: repositoryRoot)
        defer { watcher.stop() }
        await supervisor.say("watching \(repositoryRoot) for changes (Sources/, proto/, devctl.yaml, migrations)")
        let feed = Task { [weak self] in
            for await path in watcher.changes { await self?.noted(path) }
        }
        defer { feed.cancel() }
        while !Task.isCancelled {
            if let batch = debouncer.take(at: .now) {
                await handle(batch, seenAt: .now)
                continue
            }
            // Idle: a wake-up every 100 ms at most, and none of it burns CPU.
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func noted(_ path: String) {
        debouncer.record(path, at: .now)
    }

    /// One batch: everything it needs, in order; a build failure stops before any restart.
    func handle(_ batch: [String], seenAt seen: ContinuousClock.Instant) async {
        let plan = planner.plan(batch)
        guard !plan.isEmpty else { return }
        let shown = batch.filter { !ChangePlanner.isIgnored($0) }.prefix(3).joined(separator: ", ")
        await supervisor.say("changed: \(shown)\(batch.count > 3 ? " and \(batch.count - 3) more" : "")")
        if plan.configChanged {
            do {
                _ = try StackConfig.load(contentsOf: repositoryRoot + "/devctl.yaml")
                await supervisor.say("devctl.yaml changed and is valid; restart `devctl up` to apply it to the running stack")
            } catch {
                await supervisor.say("devctl.yaml is invalid; the running stack is unchanged:\n\((error as? any UserFacingError)?.message ?? "\(error)")")
            }
        }
        if plan.regenerate {
            let gen = try? await Subprocess(settings.devctl, ["gen"], workingDirectory: repositoryRoot).output()
            if gen?.succeeded != true {
                await supervisor.say("devctl gen failed; nothing restarted:\n\(gen?.stderr ?? "")")
                return
            }
            await supervisor.say("devctl gen: done")
        }
        for service in plan.migrate {
            let migrate = try? await Subprocess(settings.devctl, ["db", "migrate", service], workingDirectory: repositoryRoot).output()
            await supervisor.say(migrate?.succeeded == true ? "\(service): migrated" : "\(service): db migrate failed:\n\(migrate?.stderr ?? "")")
        }
        if plan.build {
            await build(then: plan.restart, seenAt: seen)
        }
        if plan.supervisorChanged {
            await supervisor.say("devctl's own code changed: the running supervisor keeps the old code until `devctl up` is restarted")
        }
    }

    private func build(then restart: [String], seenAt seen: ContinuousClock.Instant) async {
        let started = Date()
        let clock = ContinuousClock.now
        await supervisor.recordBuild(.init(phase: .building, startedAt: started))
        await supervisor.say("build: \(settings.buildCommand.joined(separator: " "))")
        let output = try? await Subprocess(settings.buildCommand[0], Array(settings.buildCommand.dropFirst()), workingDirectory: repositoryRoot).output()
        let buildMs = Self.milliseconds(ContinuousClock.now - clock)
        guard let output, output.succeeded else {
            let diagnostics = BuildDiagnostics.parse((output?.stdout ?? "") + "\n" + (output?.stderr ?? ""), repositoryRoot: repositoryRoot)
            let errors = diagnostics.filter { $0.severity == .error }.map(\.description)
            await supervisor.recordBuild(.init(phase: .failed, startedAt: started, durationMs: buildMs,
                                               errors: errors.isEmpty ? ["the build failed (exit \(output?.status ?? -1)) without a file:line error; see its output"] : errors))
            await supervisor.say("build failed in \(buildMs) ms; the running services are unchanged:\n" + (errors.isEmpty ? (output?.stderr ?? "") : errors.joined(separator: "\n")))
            return
        }
        guard !restart.isEmpty else {
            await supervisor.recordBuild(.init(phase: .succeeded, startedAt: started, durationMs: buildMs))
            await supervisor.say("build done in \(buildMs) ms; no service to restart")
            return
        }
        // A copy of its own: a later build never changes what these processes execute.
        generation += 1
        let copy = binaryDirectory + "/devctl.\(generation).\(getpid())"
        do {
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: settings.builtBinary, toPath: copy)
        } catch {
            await supervisor.recordBuild(.init(phase: .failed, startedAt: started, durationMs: buildMs, errors: ["cannot copy \(settings.builtBinary) to \(copy): \(error.localizedDescription)"]))
            return
        }
        await supervisor.recordBuild(.init(phase: .succeeded, startedAt: started, durationMs: buildMs, restarted: restart))
        let restartStarted = ContinuousClock.now
        let notReady = await supervisor.restartServices(restart, executable: copy)
        let readyMs = Self.milliseconds(ContinuousClock.now - restartStarted)
        let total = Self.milliseconds(ContinuousClock.now - seen)
        await supervisor.say("change → build \(buildMs) ms → \(restart.joined(separator: ", ")) ready \(readyMs) ms (\(total) ms in all)"
                             + (notReady.isEmpty ? "" : "; not ready: \(notReady.joined(separator: ", "))"))
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
