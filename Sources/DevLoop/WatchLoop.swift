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

    let supervisor: any StackControl
    private(set) var planner: ChangePlanner
    let repositoryRoot: String
    /// The devctl.yaml the stack runs from (the planner follows its changes).
    let configFile: String
    let settings: Settings
    let binaryDirectory: String
    private var debouncer: Debouncer
    private var generation = 0
    /// Services owed a restart by changes whose build (or gen) failed: the next good build
    /// restarts them too, not only the ones its own change concerns.
    private var pendingRestart: Set<String> = []
    /// Paused from the dashboard: changes are collected, and acted on once resumed.
    private var paused = false
    /// Builds the dashboard asked for that this loop has run.
    private var buildRequestsSeen = 0

    public init(supervisor: any StackControl, planner: ChangePlanner, repositoryRoot: String, configFile: String? = nil, settings: Settings) {
        self.supervisor = supervisor
        self.planner = planner
        self.repositoryRoot = repositoryRoot
        self.configFile = configFile ?? repositoryRoot + "/" + StackConfig.fileName
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
        await supervisor.recordWatch(.init(paused: false, buildRequests: 0, watcherPID: getpid()))
        while !Task.isCancelled {
            // The dashboard's requests arrive through the stack's watch record.
            if let record = await supervisor.watchRecord() {
                if record.paused != paused {
                    paused = record.paused
                    await supervisor.say(paused ? "watching paused: changes are collected until resumed" : "watching resumed")
                }
                if record.buildRequests > buildRequestsSeen {
                    buildRequestsSeen = record.buildRequests
                    await supervisor.say("build requested from the dashboard")
                    await build(then: restartOrder(), seenAt: .now)
                    continue
                }
            }
            if !paused, let batch = debouncer.take(at: .now) {
                await handle(batch, seenAt: .now)
                continue
            }
            // Idle: a wake-up every 100 ms at most, and none of it burns CPU.
            try? await Task.sleep(for: .milliseconds(100))
        }
        // Said even though this task is cancelled (a new task is not).
        let stack = supervisor
        await Task { await stack.recordWatch(nil) }.value
    }

    /// Services owed a restart, in dependency order.
    private func restartOrder() -> [String] {
        let order = (try? planner.config.startOrder(of: nil, includeDependencies: false).map(\.name)) ?? Array(pendingRestart)
        return order.filter(pendingRestart.contains)
    }

    private func noted(_ path: String) {
        debouncer.record(path, at: .now)
    }

    /// One batch: everything it needs, in order; a build failure stops before any restart.
    func handle(_ batch: [String], seenAt seen: ContinuousClock.Instant) async {
        let plan = planner.plan(batch)
        guard !plan.isEmpty else { return }
        pendingRestart.formUnion(plan.restart)
        let shown = batch.filter { !ChangePlanner.isIgnored($0) }.prefix(3).joined(separator: ", ")
        await supervisor.say("changed: \(shown)\(batch.count > 3 ? " and \(batch.count - 3) more" : "")")
        if plan.configChanged { await applyConfig() }
        if plan.regenerate {
            let gen = try? await Subprocess(settings.devctl, ["gen"], workingDirectory: repositoryRoot).output()
            if gen?.succeeded != true {
                await supervisor.say("devctl gen failed; nothing restarted:\n\(gen?.stderr ?? "")")
                return
            }
            await supervisor.say("devctl gen: done")
        }
        for service in plan.serviceBuilds {
            do {
                try await supervisor.rebuildService(service)
                await supervisor.say("\(service): rebuilt and restarted")
            } catch {
                await supervisor.say("\(service): build failed; it keeps running as it was:\n\((error as? any UserFacingError)?.message ?? "\(error)")")
            }
        }
        for service in plan.migrate {
            let migrate = try? await Subprocess(settings.devctl, ["db", "migrate", service], workingDirectory: repositoryRoot).output()
            await supervisor.say(migrate?.succeeded == true ? "\(service): migrated" : "\(service): db migrate failed:\n\(migrate?.stderr ?? "")")
        }
        if plan.build {
            // In dependency order, everything owed so far.
            await build(then: restartOrder(), seenAt: seen)
        }
        if plan.supervisorChanged {
            await supervisor.say("devctl's own code changed: the running supervisor keeps the old code until `devctl up` is restarted")
        }
    }

    /// devctl.yaml changed: an invalid file is reported and changes nothing; a valid one is
    /// applied to the running stack (services started, stopped, restarted as it says).
    private func applyConfig() async {
        do {
            let change = try await supervisor.applyConfigFile()
            if let config = try? StackConfig.load(contentsOf: configFile) {
                planner = ChangePlanner(config: config, targets: planner.targets)
            }
            if change.isEmpty {
                await supervisor.say("devctl.yaml changed; no process is affected")
            } else {
                var parts: [String] = []
                if !change.started.isEmpty { parts.append("started \(change.started.joined(separator: ", "))") }
                if !change.stopped.isEmpty { parts.append("stopped \(change.stopped.joined(separator: ", "))") }
                if !change.restarted.isEmpty { parts.append("restarted \(change.restarted.joined(separator: ", "))") }
                if !change.notReady.isEmpty { parts.append("not ready: \(change.notReady.joined(separator: ", "))") }
                await supervisor.say("devctl.yaml applied: " + parts.joined(separator: "; "))
            }
        } catch {
            await supervisor.say((error as? any UserFacingError)?.message ?? "devctl.yaml not applied: \(error)")
        }
    }

    private func build(then restart: [String], seenAt seen: ContinuousClock.Instant) async {
        let started = Date()
        let clock = ContinuousClock.now
        await supervisor.recordBuild(.init(phase: .building, startedAt: started))
        await supervisor.say("build: \(settings.buildCommand.joined(separator: " "))")
        // Marked as the stack's: `down` and the stack guard stop a build still running.
        let command = Subprocess(settings.buildCommand[0], Array(settings.buildCommand.dropFirst()),
                                 environment: [StackMarker.stackVariable: StackPaths(repositoryRoot: repositoryRoot).stackID, StackMarker.processVariable: "build"],
                                 workingDirectory: repositoryRoot)
        let output: Subprocess.Output
        do {
            output = try await command.output()
        } catch {
            await supervisor.recordBuild(.init(phase: .failed, startedAt: started, errors: ["cannot run \(command.commandLine): \(error)"]))
            await supervisor.say("cannot run the build (\(command.commandLine)): \(error)")
            return
        }
        let buildMs = Self.milliseconds(ContinuousClock.now - clock)
        guard output.succeeded else {
            let text = output.stdout + "\n" + output.stderr
            var errors = BuildDiagnostics.parse(text, repositoryRoot: repositoryRoot).filter { $0.severity == .error }.map(\.description)
            if errors.isEmpty {
                // A link or package error has no file:line: its last lines are the message.
                let tail = text.split(separator: "\n").suffix(30).map(String.init)
                errors = ["the build failed (exit \(output.status)) without a file:line error; its last lines:"] + tail
            }
            await supervisor.recordBuild(.init(phase: .failed, startedAt: started, durationMs: buildMs, errors: errors))
            await supervisor.say("build failed in \(buildMs) ms; the running services are unchanged:\n" + errors.joined(separator: "\n"))
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
        let notReady = await supervisor.restartServices(restart, executable: copy, timeout: .seconds(60))
        pendingRestart.subtract(restart)
        await removeUnusedBuilds()
        let readyMs = Self.milliseconds(ContinuousClock.now - restartStarted)
        let total = Self.milliseconds(ContinuousClock.now - seen)
        await supervisor.say("change → build \(buildMs) ms → \(restart.joined(separator: ", ")) ready \(readyMs) ms (\(total) ms in all)"
                             + (notReady.isEmpty ? "" : "; not ready: \(notReady.joined(separator: ", "))"))
    }

    /// Earlier watch builds no service runs any more (a debug devctl is ~200 MB a copy).
    private func removeUnusedBuilds() async {
        guard let inUse = await supervisor.buildsInUse() else { return }
        let suffix = ".\(getpid())"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: binaryDirectory)) ?? [] where name.hasSuffix(suffix) {
            // devctl.N.PID: this supervisor's watch builds (devctl.PID is the copy `up` took).
            guard name.split(separator: ".").count == 3 else { continue }
            let path = binaryDirectory + "/" + name
            if !inUse.contains(path) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
