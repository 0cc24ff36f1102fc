import ArgumentParser
import Dashboard
import DevLoop
import DevctlCore
import Dispatch
import Foundation
import Logging
import Stack
import StackModel

/// `devctl up`: PostgreSQL, the services in dependency order (each once its dependencies are
/// ready), and the edge; in the foreground with merged logs, or detached with `-d`.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the stack (PostgreSQL, services, edge) on this machine.",
        discussion: """
            Foreground: one merged log stream; Ctrl-C or SIGTERM stops everything in reverse order.
            -d: returns once everything is ready (exit 1 naming what was not, with its last log
            lines). Logs are kept in .devctl/logs/NAME.log either way. One stack per repository.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Services to start (default: all), with what they depend on.")
    var services: [String] = []

    @Flag(name: [.short, .customLong("detach")], help: "Run in the background; return once everything is ready.")
    var detach = false

    @Flag(name: .customLong("no-deps"), help: "Start only the named services, not their dependencies.")
    var noDeps = false

    @Option(name: .long, help: ArgumentHelp("Seconds everything may take to become ready.", valueName: "seconds"))
    var timeout: Int = 60

    @Option(name: .customLong("max-restarts"), help: ArgumentHelp("Restarts of a crashed process before it is marked failed.", valueName: "n"))
    var maxRestarts: Int = 10

    @Flag(name: .long, help: "Rebuild and restart what a change affects: Sources/, proto/ (gen), migrations (db migrate); a failed build changes nothing that runs.")
    var watch = false

    @Flag(name: .customLong("no-dashboard"), help: "Do not serve the dashboard (default: 127.0.0.1:10350, dashboard.port in devctl.yaml, DEVCTL_DASHBOARD_PORT).")
    var noDashboard = false

    @Flag(name: .customLong("supervise"), help: .hidden)
    var supervise = false

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard maxRestarts >= 0 else { throw ValidationError("--max-restarts must be 0 or more") }
    }

    /// The dashboard's port: `DEVCTL_DASHBOARD_PORT`, else devctl.yaml's (nil: none).
    private func dashboardPort(_ config: StackConfig) throws -> Int? {
        guard !noDashboard else { return nil }
        guard let text = ProcessInfo.processInfo.environment["DEVCTL_DASHBOARD_PORT"], !text.isEmpty else { return config.dashboard.port }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw ValidationError("DEVCTL_DASHBOARD_PORT must be a port number (0 takes any free port), got \"\(text)\"")
        }
        return port
    }

    func run() async throws {
        let repository = try global.repository()
        let executable = CommandLine.selfExecutable
        var options = StackOptions(
            services: services, includeDependencies: !noDeps, detached: detach || supervise, readyTimeout: .seconds(timeout),
            maxRestarts: maxRestarts, databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 },
            executable: executable
        )
        options.dashboardPort = try dashboardPort(repository.config)
        if detach && !supervise {
            try await runDetached(repository: repository, options: options, executable: executable)
            return
        }
        // Plans (and checks names) before anything starts.
        let names = try Supervisor.plannedNames(config: repository.config, options: options)
        let console = supervise ? nil : ConsoleStream(names: names + ["devctl"], colour: Console.isInteractive, human: Console.isTerminal && !global.json)
        let supervisor = try Supervisor(config: repository.config, repositoryRoot: repository.root, options: options,
                                        console: console, logger: Logger(label: "devctl.up"))
        let signals = StopSignals()
        let stopRequest = Task {
            await signals.next()
            await supervisor.requestStop()
        }
        var loop: WatchLoop?
        if watch {
            let planner = ChangePlanner(config: repository.config, targets: await WatchLoop.targets(repositoryRoot: repository.root))
            let settings = await WatchLoop.Settings.standard(repositoryRoot: repository.root, devctl: executable)
            loop = WatchLoop(supervisor: supervisor, planner: planner, repositoryRoot: repository.root, configFile: supervisor.configFile, settings: settings)
        }
        let dashboard = options.dashboardPort.map { Dashboard(supervisor: supervisor, port: $0, repositoryRoot: repository.root) }
        // A signal while starting makes start() stop what it started and throw.
        try await supervisor.start(companions: dashboard.map { [$0] } ?? [])
        var watching: Task<Void, any Error>?
        if let loop {
            watching = Task {
                do {
                    try await loop.run()
                } catch {
                    // The stack goes on unwatched; say why (an inotify limit, an unreadable folder).
                    await supervisor.say("watching stopped: \(error)")
                    throw error
                }
            }
        }
        await stopRequest.value
        watching?.cancel()
        await supervisor.shutdown()
    }

    private func runDetached(repository: StackRepository, options: StackOptions, executable: String) async throws {
        _ = try Supervisor.plannedNames(config: repository.config, options: options)
        let controller = StackController(config: repository.config, repositoryRoot: repository.root)
        var arguments = ["up", "--supervise", "--config", repository.config.source.file, "--timeout", String(timeout), "--max-restarts", String(maxRestarts)]
        if noDeps { arguments.append("--no-deps") }
        if watch { arguments.append("--watch") }
        if noDashboard { arguments.append("--no-dashboard") }
        arguments += services
        let started = ContinuousClock.now
        let pid = try controller.launchSupervisor(executable: executable, arguments: arguments)
        // On a terminal, a line per process as it becomes ready; plain output stays just the table.
        var shown: [String: ProcessRecord.State] = [:]
        let state = try await controller.waitForSupervisor(pid, timeout: Duration.seconds(timeout + 30)) { state in
            guard Console.isInteractive, !global.json else { return }
            for record in state.processes where shown[record.name] != record.state {
                shown[record.name] = record.state
                switch record.state {
                case .starting: print(Console.paint("\(record.name): starting", .dim))
                case .ready: print("\(record.name): " + Console.paint("ready", .green) + (record.readyAfterMs.map { " in \($0) ms" } ?? ""))
                case .restarting, .failed: print("\(record.name): " + Console.paint(record.state.rawValue, .red))
                default: break
                }
            }
        }
        let elapsed = ContinuousClock.now - started
        if global.json {
            try Console.printJSON(StackStatusView(state: state, running: true))
        } else {
            print(StackOutput.table(state))
            print("ready in \(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000) ms — devctl logs -f follows, devctl down stops")
        }
    }
}

/// SIGINT/SIGTERM as an awaitable event (the default handlers are replaced while it lives).
final class StopSignals: @unchecked Sendable { // the sources are only kept alive, never touched again
    private let stream: AsyncStream<Void>
    private let sources: [any DispatchSourceSignal]

    init() {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        self.stream = stream
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            return source
        }
    }

    /// Returns when the next stop signal arrives.
    func next() async {
        for await _ in stream { return }
    }
}

extension CommandLine {
    /// This executable's absolute path (what `up` runs services with).
    static var selfExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? arguments[0]
    }
}
