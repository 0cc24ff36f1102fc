#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Database
import DevctlCore
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import StackModel
import Telemetry

/// Runs the stack: PostgreSQL, then each service (`devctl serve NAME`) once its dependencies
/// answer their readiness check, then the edge; restarts what crashes (0.5 s backoff doubling
/// to 8 s); on stop, the edge first, services in reverse order, PostgreSQL last. Publishes
/// everything in ``StackState`` for `status`, `down` and a detached `up`.
public actor Supervisor {
    /// One process the stack runs.
    struct Planned: Sendable, Equatable {
        var name: String
        var kind: ProcessRecord.Kind
        var port: Int
        var executable: String
        var arguments: [String]
        var environment: [String: String]
        var readinessURL: String
        var dependencies: [String]
        /// Run before it starts (`build:` in devctl.yaml).
        var build: ServiceSpec.BuildStep?
    }

    private(set) var config: StackConfig
    /// The stack's devctl.yaml (in the repository root, under the name it was given).
    public nonisolated let configFile: String
    let repositoryRoot: String
    let paths: StackPaths
    let options: StackOptions
    let console: ConsoleStream?
    let database: DatabaseManager
    private(set) var plan: [Planned]
    /// `options` with the stack's own copy of devctl (what a changed devctl.yaml is planned with).
    let planOptions: StackOptions
    /// This stack's own copy of the devctl binary (see ``privateCopy(of:paths:)``).
    let executable: String
    private var state: StackState
    private var children: [String: ChildProcess] = [:]
    private var sinks: [String: LogSink] = [:]
    private var crashesInARow: [String: Int] = [:]
    private var stopping = false
    private var lock: FileLock?
    /// devctl's OTLP receiver (see ``startTraceReceiver()``) and the endpoint services get.
    private var traceReceiver: Task<Void, Never>?
    private var servicesTraceEndpoint: String?
    /// The OTLP endpoint `up` inherited (set, even empty: the user's choice), the traces-only
    /// variable first, as the SDK reads them.
    private let inheritedTraceEndpoint = ProcessInfo.processInfo.environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        ?? ProcessInfo.processInfo.environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
    /// The trace store the receiver fills (the dashboard reads it in-process).
    public nonisolated let traceStore: TraceStore
    /// Recent log lines and states, for the dashboard (bounded; cheap when nobody reads).
    public nonisolated let events = StackEvents()
    /// What lives as long as the stack (the dashboard): started after the preflight, stopped last.
    private var companions: [any StackCompanion] = []
    /// `up --watch`: the devctl build a Swift service runs, when a rebuild replaced the one `up`
    /// started with — per service, so a crash-restart of a service the build did not concern
    /// keeps its version.
    private var serviceExecutables: [String: String] = [:]
    /// Processes an operation (a restart, a config change) is stopping or starting on purpose:
    /// their exit is not a crash, and no other operation touches them until it is done.
    private var busy: Set<String> = []

    /// Plans the stack; throws for unknown services, a missing HAProxy or an edge without a secret.
    public init(config: StackConfig, repositoryRoot: String, options: StackOptions, console: ConsoleStream?, logger: Logger) throws {
        self.config = config
        self.repositoryRoot = repositoryRoot
        configFile = repositoryRoot + "/" + (config.source.file as NSString).lastPathComponent
        self.options = options
        self.console = console
        paths = StackPaths(repositoryRoot: repositoryRoot)
        database = try DatabaseManager(config: config, repositoryRoot: repositoryRoot, databaseURL: options.databaseURL, logger: logger)
        var pinned = options
        pinned.executable = try Self.privateCopy(of: options.executable, paths: paths)
        self.executable = pinned.executable
        planOptions = pinned
        plan = try Self.makePlan(config: config, options: pinned, paths: paths, endpoint: database.endpoint)
        state = StackState(supervisorPID: getpid(), startedAt: Date(), detached: options.detached, phase: .starting,
                           processes: plan.map { ProcessRecord(name: $0.name, kind: $0.kind, port: $0.port, url: Self.publicURL($0)) })
        traceStore = TraceStore(maxTraces: config.traces.keep)
    }

    /// The processes `up` would run for `options`, in start order (the edge last).
    public static func plannedNames(config: StackConfig, options: StackOptions) throws -> [String] {
        let services = try config.startOrder(of: options.services.isEmpty ? nil : options.services, includeDependencies: options.includeDependencies)
        let exposed = EdgeConfig(model: config.routeModel, runningServices: Set(services.map(\.name))).routes
        return services.map(\.name) + (exposed.isEmpty ? [] : ["edge"])
    }

    static func publicURL(_ planned: Planned) -> String { "http://127.0.0.1:\(planned.port)" }

    /// A copy of `executable` taken now, which the stack's services run from: a `swift build`
    /// while the stack runs replaces the original, and a crash-restarted service must not
    /// silently come back as different code. Copies of stacks that are gone are removed.
    static func privateCopy(of executable: String, paths: StackPaths) throws -> String {
        try paths.createDirectories()
        let fileManager = FileManager.default
        // Only while no stack runs here: a running one's services may execute a copy whose
        // maker (a `devctl watch` that ended) is gone.
        let stackRuns = FileLock.isHeld(at: paths.lockFile)
        for name in stackRuns ? [] : (try? fileManager.contentsOfDirectory(atPath: paths.binaryDirectory)) ?? [] {
            // devctl.PID: the supervisor that uses it; keep those whose process still runs.
            if let pid = pid_t(name.split(separator: ".").last ?? ""), kill(pid, 0) == 0 { continue }
            try? fileManager.removeItem(atPath: paths.binaryDirectory + "/" + name)
        }
        let copy = paths.binaryDirectory + "/devctl.\(getpid())"
        try? fileManager.removeItem(atPath: copy)
        do {
            try fileManager.copyItem(atPath: executable, toPath: copy)
        } catch {
            throw DevctlFailure("cannot copy \(executable) to \(copy): \(error.localizedDescription)",
                                hint: "the stack runs its services from a copy of devctl taken at `up`; check that \(paths.binaryDirectory) is writable")
        }
        return copy
    }

    static func makePlan(config: StackConfig, options: StackOptions, paths: StackPaths, endpoint: PostgresEndpoint) throws -> [Planned] {
        let services = try config.startOrder(of: options.services.isEmpty ? nil : options.services, includeDependencies: options.includeDependencies)
        let selected = Set(services.map(\.name))
        let inherited = ProcessInfo.processInfo.environment
        var plan = services.map { service in
            // devctl.yaml's values unless the shell overrides them; port and database always from
            // the stack. `serve --no-config` then needs nothing else (and skips parsing the file).
            var environment: [String: String] = [:]
            for variable in service.environment where (inherited[variable.name] ?? "").isEmpty {
                environment[variable.name] = variable.value
            }
            environment["PORT"] = String(service.port)
            if let database = service.database { environment["DATABASE_URL"] = endpoint.url(database: database) }
            environment[StackMarker.stackVariable] = paths.stackID
            environment[StackMarker.processVariable] = service.name
            // A service with its own `command` (Go, Node …) runs that, from the repository root.
            let program = service.command.map { command in
                (command[0].contains("/") ? command[0] : Subprocess.findExecutable(command[0]) ?? command[0], Array(command.dropFirst()))
            } ?? (options.executable, ["serve", service.name, "--no-config"])
            return Planned(name: service.name, kind: .service, port: service.port, executable: program.0,
                           arguments: program.1, environment: environment,
                           readinessURL: "http://127.0.0.1:\(service.port)\(service.health.ready)",
                           dependencies: service.dependsOn.filter(selected.contains), build: service.build)
        }
        let edge = EdgeConfig(model: config.routeModel, runningServices: selected)
        if !edge.routes.isEmpty {
            guard let haproxy = Subprocess.findExecutable("haproxy", extraDirectories: ["/usr/sbin", "/usr/local/sbin"]) else {
                throw DevctlFailure("the edge needs HAProxy, and haproxy is not installed",
                                    hint: "apt-get install -y haproxy (scripts/setup.sh installs it)")
            }
            var environment: [String: String] = [:]
            if edge.routes.contains(where: { $0.uses(.auth) }) {
                let fromFile = config.routeModel.tokenIssuer.flatMap { config.service(named: $0) }?.environment.first { $0.name == "JWT_SECRET" }?.value
                guard let secret = ProcessInfo.processInfo.environment["JWT_SECRET"].flatMap({ $0.isEmpty ? nil : $0 }) ?? fromFile else {
                    throw DevctlFailure("routes use the auth middleware, but no service sets JWT_SECRET in devctl.yaml",
                                        hint: "add JWT_SECRET to the environment of the service that issues tokens (auth), or export JWT_SECRET")
                }
                environment[EdgeConfig.secretVariable] = secret
            }
            environment[StackMarker.stackVariable] = paths.stackID
            environment[StackMarker.processVariable] = "edge"
            plan.append(Planned(name: "edge", kind: .edge, port: config.edge.port, executable: haproxy,
                                arguments: ["-f", paths.edgeConfigFile, "-db"], environment: environment,
                                readinessURL: "http://127.0.0.1:\(config.edge.port)\(EdgeConfig.healthPath)",
                                dependencies: edge.routes.map(\.service)))
        }
        return plan
    }

    // MARK: Up

    /// Everything up to "all ready": lock, preflight, PostgreSQL and databases, processes in
    /// order. Throws (after stopping what it started) when something is not ready in time.
    public func start(companions: [any StackCompanion] = []) async throws {
        try paths.createDirectories()
        guard let lock = try FileLock.tryAcquire(at: paths.lockFile) else {
            throw StackRunning.error(paths: paths)
        }
        self.lock = lock
        let deadline = ContinuousClock.now.advanced(by: options.readyTimeout)
        do {
            try preflight()
            try startContainment()
            try await startTraceReceiver()
            for companion in companions {
                self.companions.append(companion)
                if let line = try await companion.start() { note(line) }
            }
            try await writeEdgeConfig()
            for planned in plan where planned.build != nil { try await runBuild(planned) }
            try await startDatabase()
            for planned in plan {
                let waiting = await waitUntilReady(planned.dependencies, deadline: deadline)
                if stopping { throw DevctlFailure("stopped by a signal before the stack was ready") }
                guard waiting.isEmpty else { throw notReadyFailure(waiting) }
                try await launch(planned)
            }
            let waiting = await waitUntilReady(plan.map(\.name), deadline: deadline)
            if stopping { throw DevctlFailure("stopped by a signal before the stack was ready") }
            guard waiting.isEmpty else { throw notReadyFailure(waiting) }
            state.phase = .running
            publish()
            note("stack ready in \(milliseconds(since: state.startedAt)) ms")
        } catch {
            state.failure = (error as? any UserFacingError)?.message ?? "\(error)"
            await shutdown(finalPhase: .failed)
            throw error
        }
    }

    /// Whatever the services start stays within the stack: orphans come to the supervisor (a
    /// child subreaper, which reaps them), and a guard process stops every marked process when
    /// the supervisor ends, even by `kill -9`.
    private func startContainment() throws {
        OrphanReaper.becomeSubreaper()
        Task.detached {
            while true {
                OrphanReaper.reapOrphans()
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let log = open(paths.logFile(for: "stack-guard"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        defer { if log >= 0 { close(log) } }
        try StackGuard.start(executable: executable, stackID: paths.stackID, log: log)
    }

    /// devctl's OTLP/HTTP receiver on 127.0.0.1 (`traces.port`, or any free port), unless the
    /// environment names an endpoint of its own: then the services send there (a real collector
    /// or Tempo) and devctl receives nothing. Services started after this send to it.
    private func startTraceReceiver() async throws {
        if let external = inheritedTraceEndpoint {
            state.traces = .init(receiver: nil, externalEndpoint: external)
            note(external.isEmpty ? "traces: off (OTEL_EXPORTER_OTLP_ENDPOINT is empty)" : "traces: sent to \(external) (OTEL_EXPORTER_OTLP_ENDPOINT)")
            return
        }
        var logger = Logger(label: "devctl-traces")
        // Hummingbird logs its own stop as errors when connections are still open ("Waiting on
        // child channel: CancellationError()" at every Ctrl-C); a failure to start is reported
        // by devctl itself, so only critical lines are worth a user's terminal.
        logger.logLevel = .critical
        let (listening, announce) = AsyncStream<Int>.makeStream()
        let application = OTLPReceiver(store: traceStore).makeApplication(port: config.traces.port, logger: logger) { port in
            announce.yield(port)
            announce.finish()
        }
        let failure = NIOLockedValueBox<String?>(nil)
        traceReceiver = Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                failure.withLockedValue { $0 = "\(error)" }
            }
            announce.finish()
        }
        var iterator = listening.makeAsyncIterator()
        guard let port = await iterator.next() else {
            throw DevctlFailure("cannot start devctl's trace receiver on 127.0.0.1:\(config.traces.port): \(failure.withLockedValue { $0 } ?? "it stopped")",
                                hint: "free the port or change traces.port in devctl.yaml (0 takes any free port)")
        }
        servicesTraceEndpoint = "http://127.0.0.1:\(port)"
        state.traces = .init(receiver: servicesTraceEndpoint, externalEndpoint: nil)
        publish()
        note("traces: receiving on 127.0.0.1:\(port) (devctl traces)")
    }

    /// What a service's environment gains for tracing: devctl's receiver as its OTLP endpoint,
    /// and a short batch delay so a request shows in `devctl traces` within a second. devctl.yaml
    /// or the shell setting either one wins.
    private func tracingEnvironment(for planned: Planned) -> [String: String] {
        guard planned.kind == .service, let endpoint = servicesTraceEndpoint else { return [:] }
        var added: [String: String] = [:]
        if planned.environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == nil, planned.environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == nil {
            added["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        }
        if planned.environment["OTEL_BSP_SCHEDULE_DELAY"] == nil, ProcessInfo.processInfo.environment["OTEL_BSP_SCHEDULE_DELAY"] == nil {
            added["OTEL_BSP_SCHEDULE_DELAY"] = "500"
        }
        return added
    }

    /// Every port the stack needs must be free before anything starts.
    private func preflight() throws {
        var ports = plan.map { ($0.name, $0.port) }
        if inheritedTraceEndpoint == nil, config.traces.port != 0 { ports.append(("traces", config.traces.port)) }
        if let port = options.dashboardPort, port != 0 { ports.append(("dashboard", port)) }
        if !needsDatabase {} else if let embedded = database.embedded, case .running = embedded.state() {} else if database.embedded != nil {
            ports.append(("postgres", config.postgres.port))
        }
        let taken = ports.filter { !PortProbe.isFree($0.1) }
        guard taken.isEmpty else {
            let lines = taken.map { "port \($0.1) (\($0.0)) is in use by \(PortProbe.describeHolder(of: $0.1))" }
            throw DevctlFailure("cannot start the stack, nothing was started:\n  " + lines.joined(separator: "\n  "),
                                hint: "stop what holds the port, or change the port in devctl.yaml")
        }
    }

    private func writeEdgeConfig() async throws {
        guard let edge = plan.first(where: { $0.kind == .edge }) else { return }
        let text = EdgeConfig(model: config.routeModel, runningServices: Set(plan.map(\.name))).render()
        try text.write(toFile: paths.edgeConfigFile, atomically: true, encoding: .utf8)
        let check = try await Subprocess(edge.executable, ["-c", "-q", "-f", paths.edgeConfigFile], environment: edge.environment).output()
        guard check.succeeded else {
            throw DevctlFailure("the generated edge config \(paths.edgeConfigFile) is invalid:\n\(check.stderr)\(check.stdout)",
                                hint: "check the routes (expose) in devctl.yaml")
        }
    }

    /// Services of this run that own a database (none: PostgreSQL is not started at all, as
    /// compose would not start a database no service uses).
    private var servicesWithDatabases: [String] {
        plan.filter { $0.kind == .service }.map(\.name).filter { config.service(named: $0)?.database != nil }
    }

    private var needsDatabase: Bool { !servicesWithDatabases.isEmpty }

    private func startDatabase() async throws {
        guard needsDatabase else { return }
        let report = try await database.startServer()
        state.postgres = .init(address: "\(database.endpoint.host):\(database.endpoint.port)", embedded: database.embedded != nil,
                               startedByStack: report.started)
        note(database.embedded == nil ? "postgres: using DATABASE_URL's server" : (report.started ? "postgres: started" : "postgres: already running"))
        _ = try await database.initialize(services: servicesWithDatabases)
        publish()
    }

    private func launch(_ planned: Planned) async throws {
        guard !stopping, children[planned.name] == nil else { return }
        let sink = sinks[planned.name] ?? LogSink(name: planned.name, path: paths.logFile(for: planned.name), console: console, events: events)
        sinks[planned.name] = sink
        update(planned.name) {
            $0.state = .starting
            $0.startedAt = Date()
            $0.readyAfterMs = nil
        }
        let child = try await ChildProcess.start(
            name: planned.name, executable: serviceExecutables[planned.name] ?? planned.executable, arguments: planned.arguments,
            environment: planned.environment.merging(tracingEnvironment(for: planned)) { $1 }, workingDirectory: repositoryRoot, sink: sink
        ) { [weak self] pid, status in
            guard let self else { return }
            Task { await self.exited(planned.name, pid: pid, status: status) }
        }
        children[planned.name] = child
        update(planned.name) { $0.pid = child.pid }
        note("\(planned.name): starting (pid \(child.pid))")
        let pid = child.pid
        Task { await self.watch(planned, pid: pid) }
    }

    /// Readiness loop for one run of a process: every 200 ms until ready, then every second.
    private func watch(_ planned: Planned, pid: pid_t) async {
        let started = ContinuousClock.now
        while !stopping, children[planned.name]?.pid == pid {
            let ready = await ReadinessProbe.isReady(planned.readinessURL)
            guard !stopping, children[planned.name]?.pid == pid, let record = state.process(named: planned.name) else { return }
            switch (record.state, ready) {
            case (.starting, true):
                let elapsed = ContinuousClock.now - started
                let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                update(planned.name) {
                    $0.state = .ready
                    $0.readyAfterMs = ms
                    $0.readyAt = Date()
                }
                note("\(planned.name): ready in \(ms) ms")
            case (.ready, false):
                update(planned.name) { $0.state = .unhealthy }
                note("\(planned.name): unhealthy (\(planned.readinessURL) does not answer 200)")
            case (.unhealthy, true):
                update(planned.name) {
                    $0.state = .ready
                    $0.readyAt = Date()
                }
                note("\(planned.name): ready again")
            default:
                break
            }
            let interval: Duration = state.process(named: planned.name)?.state == .starting ? .milliseconds(200) : .seconds(1)
            try? await Task.sleep(for: interval)
        }
    }

    /// A child ended: expected during a stop; otherwise restart it after the backoff.
    private func exited(_ name: String, pid: pid_t, status: Int32) async {
        // An earlier run of a process that has been started again meanwhile: nothing to do.
        guard children[name]?.pid == pid else { return }
        let ranFor = state.process(named: name)?.startedAt.map { Date().timeIntervalSince($0) } ?? 0
        children[name] = nil
        update(name) {
            $0.pid = nil
            $0.lastExit = status
        }
        guard !stopping, !busy.contains(name), plan.contains(where: { $0.name == name }) else {
            update(name) { $0.state = .stopped }
            return
        }
        let restarts = state.process(named: name)?.restarts ?? 0
        guard restarts < options.maxRestarts else {
            update(name) { $0.state = .failed }
            note("\(name): exited with status \(status); gave up after \(restarts) restarts")
            return
        }
        // A process that ran a while before crashing starts its backoff afresh.
        let inARow = ranFor > 30 ? 0 : (crashesInARow[name] ?? 0)
        crashesInARow[name] = inARow + 1
        let delay = Self.backoff(afterCrashes: inARow, first: options.firstRestartDelay)
        update(name) {
            $0.state = .restarting
            $0.restarts += 1
        }
        note("\(name): exited with status \(status); restarting in \(delay)")
        Task {
            try? await Task.sleep(for: delay)
            await self.restartAfterCrash(name)
        }
    }

    // MARK: Watch

    /// Restarts `names` (in this order) on `executable` — a new build of devctl, kept as its own
    /// copy — each once the previous one is ready again; returns the names that did not become
    /// ready within `timeout`. A service whose program is not devctl (`command:`) keeps it.
    public func restartServices(_ names: [String], executable: String, timeout: Duration = .seconds(60)) async -> [String] {
        var notReady: [String] = []
        for name in names {
            await acquire([name])
            defer { release([name]) }
            guard !stopping, let planned = plan.first(where: { $0.name == name && $0.kind == .service }) else { continue }
            if planned.executable == self.executable { serviceExecutables[name] = executable }
            do {
                try await relaunch(planned, timeout: timeout)
            } catch {
                note("\(name): \((error as? any UserFacingError)?.message ?? "\(error)")")
                notReady.append(name)
            }
        }
        return notReady
    }

    /// The devctl copies services run now (older watch builds not among them can be deleted).
    public func executablesInUse() -> Set<String> {
        Set(plan.filter { $0.kind == .service }.map { serviceExecutables[$0.name] ?? $0.executable })
    }

    /// Publishes the state of `up --watch`'s build.
    public func recordBuild(_ record: StackState.BuildRecord) {
        state.build = record
        publish()
    }

    /// Publishes the dashboard's address (nil once it stopped).
    public func recordDashboard(_ url: String?) {
        state.dashboard = url
        publish()
    }

    /// A watcher starts (a record) or ends (nil).
    public func recordWatch(_ record: StackState.WatchRecord?) {
        state.watch = record
        publish()
    }

    /// The watch record, cleared when its watcher process is gone (a `devctl watch` killed).
    public func watchRecord() -> StackState.WatchRecord? {
        if let record = state.watch, record.watcherPID != getpid(), kill(record.watcherPID, 0) != 0 {
            state.watch = nil
            publish()
        }
        return state.watch
    }

    /// The dashboard asks the watcher to pause or resume, or to build; false: nobody watches.
    public func requestWatch(paused: Bool? = nil, build: Bool = false) -> Bool {
        guard var record = watchRecord() else { return false }
        if let paused { record.paused = paused }
        if build { record.buildRequests += 1 }
        state.watch = record
        publish()
        return true
    }

    /// Restarts one process (a service or the edge) on what it runs now, as if it had crashed
    /// but without counting a crash; returns once it is ready again, or throws saying why not.
    public func restartProcess(_ name: String, timeout: Duration = .seconds(60)) async throws {
        guard plan.contains(where: { $0.name == name }) else {
            throw DevctlFailure("no process named \(name) in this stack", hint: "the stack runs \(plan.map(\.name).joined(separator: ", "))")
        }
        await acquire([name])
        defer { release([name]) }
        guard !stopping else { throw DevctlFailure("the stack is stopping") }
        // The plan may have changed while waiting (a devctl.yaml change removed it).
        guard let planned = plan.first(where: { $0.name == name }) else { throw DevctlFailure("\(name) left the stack meanwhile") }
        note("\(name): restart requested")
        try await relaunch(planned, timeout: timeout)
    }

    /// Stop, start (a fresh backoff), wait for readiness: one restart of a process the caller
    /// holds (``acquire(_:)``). Throws when it did not start or become ready within `timeout`.
    private func relaunch(_ planned: Planned, timeout: Duration) async throws {
        let name = planned.name
        await stop(name)
        crashesInARow[name] = 0
        do {
            try await launch(planned)
        } catch {
            update(name) { $0.state = .failed }
            throw DevctlFailure("\(name) did not start again: \(error)")
        }
        let waiting = await waitUntilReady([name], deadline: ContinuousClock.now.advanced(by: timeout))
        guard waiting.isEmpty else {
            throw DevctlFailure("\(name) did not become ready within \(timeout) after its restart", hint: "devctl logs \(name)")
        }
    }

    /// What applying a changed devctl.yaml did to the running stack.
    public struct ConfigChange: Sendable, Equatable, Codable {
        public var started: [String] = []
        public var stopped: [String] = []
        public var restarted: [String] = []
        /// Processes that did not become ready after the change.
        public var notReady: [String] = []
        public var isEmpty: Bool { started.isEmpty && stopped.isEmpty && restarted.isEmpty }
    }

    /// Applies a changed (already valid) devctl.yaml to the running stack: services it no longer
    /// has stop, new ones start (their databases created and migrated first), a service whose
    /// process would differ (environment, port, command, readiness) restarts, in dependency
    /// order; the edge restarts when its routes or settings change. What only a new `up` can
    /// change (PostgreSQL, the trace receiver, the dashboard) is refused with nothing touched.
    public func apply(_ newConfig: StackConfig, timeout: Duration = .seconds(60)) async throws -> ConfigChange {
        guard !stopping else { throw DevctlFailure("the stack is stopping") }
        var needsNewUp: [String] = []
        if newConfig.postgres != config.postgres { needsNewUp.append("postgres") }
        if newConfig.traces != config.traces { needsNewUp.append("traces") }
        if newConfig.dashboard != config.dashboard { needsNewUp.append("dashboard") }
        guard needsNewUp.isEmpty else {
            throw DevctlFailure("devctl.yaml changed \(needsNewUp.joined(separator: ", ")), which the running stack cannot take on; nothing was changed",
                                hint: "restart `devctl up` to apply it")
        }
        let newPlan = try Self.makePlan(config: newConfig, options: planOptions, paths: paths, endpoint: database.endpoint)
        let old = Dictionary(uniqueKeysWithValues: plan.map { ($0.name, $0) })
        let new = Dictionary(uniqueKeysWithValues: newPlan.map { ($0.name, $0) })
        let oldEdgeText = EdgeConfig(model: config.routeModel, runningServices: Set(plan.map(\.name))).render()
        let newEdgeText = EdgeConfig(model: newConfig.routeModel, runningServices: Set(newPlan.map(\.name))).render()
        let removed = plan.filter { new[$0.name] == nil }.map(\.name)
        let added = newPlan.filter { old[$0.name] == nil }
        let changed = newPlan.filter { planned in
            guard let before = old[planned.name] else { return false }
            return before != planned || (planned.kind == .edge && oldEdgeText != newEdgeText)
        }
        // A port that is new to the stack must be free, before anything is touched.
        let ownPorts = Set(plan.map(\.port))
        let taken = (added + changed).filter { !ownPorts.contains($0.port) && !PortProbe.isFree($0.port) }
        guard taken.isEmpty else {
            throw DevctlFailure("devctl.yaml's change needs ports in use; nothing was changed:\n  "
                                + taken.map { "port \($0.port) (\($0.name)) is in use by \(PortProbe.describeHolder(of: $0.port))" }.joined(separator: "\n  "),
                                hint: "free the port or pick another in devctl.yaml")
        }
        // Databases new to the stack: a new service's, or one an existing service now names.
        let newDatabases = (added + changed).filter { $0.kind == .service }.map(\.name).filter { name in
            guard let database = newConfig.service(named: name)?.database else { return false }
            return config.service(named: name)?.database != database
        }
        if !newDatabases.isEmpty {
            guard state.postgres != nil else {
                throw DevctlFailure("\(newDatabases.joined(separator: ", ")) needs a database and this stack runs no PostgreSQL; nothing was changed",
                                    hint: "restart `devctl up` to apply it")
            }
            var logger = Logger(label: "devctl.up")
            logger.logLevel = .warning
            let manager = try DatabaseManager(config: newConfig, repositoryRoot: repositoryRoot, databaseURL: options.databaseURL, logger: logger)
            _ = try await manager.initialize(services: newDatabases)
        }
        var change = ConfigChange()
        guard !removed.isEmpty || !added.isEmpty || !changed.isEmpty else {
            config = newConfig
            return change
        }
        // No restart or crash-restart of these runs while the change is made.
        let touched = removed + (added + changed).map(\.name)
        await acquire(touched)
        defer { release(touched) }
        // Out first (the edge before what it routes to), in reverse start order.
        for planned in plan.reversed() where removed.contains(planned.name) || changed.contains(where: { $0.name == planned.name }) {
            await stop(planned.name)
            if removed.contains(planned.name) { note("\(planned.name): stopped (no longer in devctl.yaml)") }
        }
        config = newConfig
        plan = newPlan
        let records = Dictionary(uniqueKeysWithValues: state.processes.map { ($0.name, $0) })
        state.processes = newPlan.map { planned in
            var record = records[planned.name] ?? ProcessRecord(name: planned.name, kind: planned.kind, port: planned.port, url: Self.publicURL(planned))
            record.port = planned.port
            record.url = Self.publicURL(planned)
            if changed.contains(where: { $0.name == planned.name }) { record.state = .pending }
            return record
        }
        for name in removed {
            sinks[name] = nil
            crashesInARow[name] = nil
            serviceExecutables[name] = nil
        }
        // A service that no longer runs devctl (now a `command:`) leaves its watch build behind.
        for planned in changed where old[planned.name]?.executable != planned.executable {
            serviceExecutables[planned.name] = nil
        }
        publish()
        change.stopped = removed
        // In again in start order, each once what it depends on is ready.
        for planned in newPlan where added.contains(where: { $0.name == planned.name }) || changed.contains(where: { $0.name == planned.name }) {
            let deadline = ContinuousClock.now.advanced(by: timeout)
            _ = await waitUntilReady(planned.dependencies, deadline: deadline)
            do {
                if planned.kind == .edge { try await writeEdgeConfig() }
                crashesInARow[planned.name] = 0
                try await launch(planned)
            } catch {
                update(planned.name) { $0.state = .failed }
                note("\(planned.name): cannot start: \(error)")
                change.notReady.append(planned.name)
                continue
            }
            change.notReady += await waitUntilReady([planned.name], deadline: deadline)
            if added.contains(where: { $0.name == planned.name }) { change.started.append(planned.name) } else { change.restarted.append(planned.name) }
        }
        return change
    }

    /// A service's `build:` step, from the repository root; its output goes to the service's log.
    private func runBuild(_ planned: Planned) async throws {
        guard let step = planned.build, let program = step.command.first else { return }
        let sink = sinks[planned.name] ?? LogSink(name: planned.name, path: paths.logFile(for: planned.name), console: console, events: events)
        sinks[planned.name] = sink
        note("\(planned.name): building (\(step.command.joined(separator: " ")))")
        let started = ContinuousClock.now
        let executable = program.contains("/") ? program : Subprocess.findExecutable(program) ?? program
        let output: Subprocess.Output
        do {
            output = try await Subprocess(executable, Array(step.command.dropFirst()), workingDirectory: repositoryRoot).output()
        } catch {
            throw DevctlFailure("\(planned.name): cannot run its build (\(step.command.joined(separator: " "))): \(error)",
                                hint: "check services.\(planned.name).build in devctl.yaml")
        }
        let text = (output.stdout + output.stderr).split(separator: "\n").map(String.init)
        for line in text { sink.write(line: line) }
        guard output.succeeded else {
            throw DevctlFailure("\(planned.name): its build (\(step.command.joined(separator: " "))) failed (exit \(output.status)):\n    "
                                + text.suffix(15).joined(separator: "\n    "),
                                hint: "devctl logs \(planned.name) shows all of it")
        }
        let elapsed = ContinuousClock.now - started
        note("\(planned.name): built in \(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000) ms")
    }

    /// Runs a service's `build:` step again and restarts it on the result (`up --watch`, when
    /// its sources change); a failed build leaves the running service as it is.
    public func rebuildService(_ name: String) async throws {
        guard let planned = plan.first(where: { $0.name == name }), planned.build != nil else {
            throw DevctlFailure("\(name) has no build step in this stack")
        }
        try await runBuild(planned)
        try await restartProcess(name)
    }

    /// A line in the stack's own voice (the console's `devctl |` lines).
    public func say(_ line: String) {
        note(line)
    }

    /// `first` (0.5 s), doubling per crash in a row, at most 16 × `first` (8 s).
    static func backoff(afterCrashes crashes: Int, first: Duration = .milliseconds(500)) -> Duration {
        first * (1 << min(crashes, 4))
    }

    /// The backoff is over: start it again — as the plan has it now, unless an operation took it
    /// over or the plan no longer has it.
    private func restartAfterCrash(_ name: String) async {
        guard !stopping, !busy.contains(name), children[name] == nil, let planned = plan.first(where: { $0.name == name }) else { return }
        do {
            try await launch(planned)
        } catch {
            update(planned.name) { $0.state = .failed }
            note("\(planned.name): cannot restart: \(error)")
        }
    }

    /// Waits until no operation holds any of `names`, then holds them all.
    private func acquire(_ names: [String]) async {
        while names.contains(where: busy.contains) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        busy.formUnion(names)
    }

    private func release(_ names: [String]) {
        busy.subtract(names)
    }

    private func waitUntilReady(_ names: [String], deadline: ContinuousClock.Instant) async -> [String] {
        while true {
            let waiting = names.filter { state.process(named: $0)?.state != .ready }
            let failed = waiting.filter { state.process(named: $0)?.state == .failed }
            if waiting.isEmpty || !failed.isEmpty || ContinuousClock.now >= deadline || stopping { return waiting }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func notReadyFailure(_ names: [String]) -> DevctlFailure {
        let seconds = options.readyTimeout.components.seconds
        let parts = names.map { name -> String in
            let record = state.process(named: name)
            let lines = sinks[name]?.lastLines(15) ?? []
            var text = "\(name) (port \(record?.port ?? 0)) did not become ready within \(seconds) s (state \(record?.state.rawValue ?? "?")"
            if let exit = record?.lastExit { text += ", last exit status \(exit)" }
            text += ")"
            if !lines.isEmpty { text += "; last lines of \(paths.logFile(for: name)):\n    " + lines.joined(separator: "\n    ") }
            return text
        }
        return DevctlFailure(parts.joined(separator: "\n"), hint: "devctl logs \(names.joined(separator: " ")) shows the whole log; --timeout gives it longer")
    }

    /// A stop signal arrived: interrupts a start in progress (``start()`` then stops what it
    /// started); the caller runs ``shutdown(finalPhase:)`` afterwards otherwise.
    public func requestStop() {
        stopping = true
    }

    // MARK: Down

    /// Stops everything in reverse start order (edge first), then PostgreSQL if the stack
    /// started it, and releases the stack lock.
    public func shutdown(finalPhase: StackState.Phase = .stopped) async {
        stopping = true
        state.phase = .stopping
        publish()
        for planned in plan.reversed() {
            await stop(planned.name)
        }
        if state.postgres?.startedByStack == true {
            note("postgres: stopping")
            _ = try? await database.stopServer()
        }
        // Last: the services flushed their spans to it while stopping.
        traceReceiver?.cancel()
        await traceReceiver?.value
        traceReceiver = nil
        events.close()
        for companion in companions.reversed() { await companion.stop() }
        companions = []
        for planned in plan where state.process(named: planned.name)?.state != .failed {
            update(planned.name) { $0.state = .stopped }
        }
        state.phase = finalPhase
        publish()
        lock?.release()
        lock = nil
    }

    /// SIGTERM to the process's group, wait up to the stop timeout for it and every other member
    /// of its group (a shell's background job outlives the shell), then SIGKILL the group.
    private func stop(_ name: String) async {
        guard let child = children[name] else { return }
        note("\(name): stopping")
        child.signal(SIGTERM)
        let deadline = ContinuousClock.now.advanced(by: options.stopTimeout)
        // This child (not one started after it) and every member of its group.
        let running = { self.children[name]?.pid == child.pid }
        while running() || !ProcessTable.members(ofGroup: child.pid).isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if running() || !ProcessTable.members(ofGroup: child.pid).isEmpty {
            note("\(name): did not stop within \(options.stopTimeout); killing it")
            child.signal(SIGKILL)
            while running() { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    // MARK: State

    /// The current state (what `status` would read).
    public var snapshot: StackState { state }

    private func update(_ name: String, _ change: (inout ProcessRecord) -> Void) {
        guard let index = state.processes.firstIndex(where: { $0.name == name }) else { return }
        change(&state.processes[index])
        publish()
    }

    private func publish() {
        try? state.write(to: paths.stateFile)
        events.state(state)
    }

    private func note(_ line: String) {
        events.log(source: "devctl", line: line)
        if let console {
            console.note(line)
        } else {
            let stamp = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
            FileHandle.standardOutput.write(Data("\(stamp) \(line)\n".utf8))
        }
    }

    private func milliseconds(since date: Date) -> Int { Int(Date().timeIntervalSince(date) * 1000) }
}

/// A second `up` while a stack runs: says what runs and how to reach it.
enum StackRunning {
    static func error(paths: StackPaths) -> DevctlFailure {
        let state = StackState.read(from: paths.stateFile)
        let pid = state.map { " (supervisor pid \($0.supervisorPID))" } ?? ""
        return DevctlFailure("a stack is already running in this repository\(pid)",
                             hint: "devctl status shows it, devctl logs -f follows it, devctl down stops it")
    }
}
