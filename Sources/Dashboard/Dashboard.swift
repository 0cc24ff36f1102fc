#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DevctlCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Stack
import Synchronization
import Telemetry

/// The stack's web dashboard (what Tilt's :10350 was): one page and a JSON API served by the
/// supervisor on 127.0.0.1. It reads the supervisor's state and events and asks it to act; it
/// owns none of it.
///
/// Trust: it listens on loopback only and answers only requests addressed to
/// `127.0.0.1:PORT`/`localhost:PORT` (a page on another site that rebinds its DNS name to
/// 127.0.0.1 is refused). Reads are open to local scripts; every POST needs the stack's token
/// (in the page it serves, and in `.devctl/run/dashboard.token`, mode 0600) and, when the
/// browser sends one, this dashboard's own Origin — another local page cannot make it act.
public final class Dashboard: StackCompanion {
    let supervisor: Supervisor
    let requestedPort: Int
    let binaryDirectory: String
    let token: String
    let tokenFile: String
    private let running = Mutex<(task: Task<Void, Never>?, port: Int)>((nil, 0))

    /// `port` 0 takes any free port.
    public init(supervisor: Supervisor, port: Int, repositoryRoot: String) {
        self.supervisor = supervisor
        requestedPort = port
        binaryDirectory = StackPaths(repositoryRoot: repositoryRoot).binaryDirectory
        token = Self.makeToken()
        tokenFile = StackPaths(repositoryRoot: repositoryRoot).runDirectory + "/dashboard.token"
    }

    /// The port it listens on (0 before ``start()``).
    public var port: Int { running.withLock { $0.port } }

    public func start() async throws -> String? {
        try writeToken()
        var logger = Logger(label: "devctl-dashboard")
        // Hummingbird logs its own stop as errors when connections are still open ("Waiting on
        // child channel: CancellationError()" at every Ctrl-C); a failure to start is reported
        // by devctl itself, so only critical lines are worth a user's terminal.
        logger.logLevel = .critical
        let (listening, announce) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname("127.0.0.1", port: requestedPort), serverName: "devctl-dashboard"),
            onServerRunning: { channel in
                announce.yield(channel.localAddress?.port ?? 0)
                announce.finish()
            },
            logger: logger
        )
        let failure = Mutex<String?>(nil)
        let task = Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            announce.finish()
        }
        var iterator = listening.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            throw DevctlFailure("cannot start the dashboard on 127.0.0.1:\(requestedPort): \(failure.withLock { $0 } ?? "it stopped")",
                                hint: "free the port, or set dashboard.port in devctl.yaml (or DEVCTL_DASHBOARD_PORT; 0 takes any free port)")
        }
        running.withLock { $0 = (task, port) }
        let url = "http://127.0.0.1:\(port)"
        await supervisor.recordDashboard(url)
        return "dashboard: \(url)"
    }

    public func stop() async {
        let task = running.withLock { $0.task }
        task?.cancel()
        // A page that stopped reading could hold a stream open: the stack stops regardless.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task?.value }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        running.withLock { $0.task = nil }
        unlink(tokenFile)
    }

    // MARK: Routes

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: LoopbackGuard(dashboard: self))
        router.get("/") { _, _ in self.page() }
        router.get("/api/v1/state") { _, _ in await self.stateResponse() }
        router.get("/api/v1/events") { request, _ in self.eventsResponse(request) }
        router.get("/api/v1/logs") { request, _ in self.logsResponse(request) }
        OTLPReceiver.addQueryRoutes(to: router, at: "/api/v1/traces", store: supervisor.traceStore)
        router.post("/api/v1/resources/{name}/restart") { _, context in
            let name = context.parameters.get("name") ?? ""
            do {
                try await self.supervisor.restartProcess(name)
                return DashboardJSON.response(["restarted": name])
            } catch {
                let message = (error as? any UserFacingError)?.message ?? "\(error)"
                return DashboardJSON.error(message.hasPrefix("no process") ? .notFound : .serviceUnavailable, message)
            }
        }
        // The page's watch actions go to whoever watches (`up --watch` or `devctl watch`),
        // through the stack's watch record, which the watcher follows.
        let notWatching = "nothing watches this stack: start it with devctl up --watch, or run devctl watch beside it"
        router.post("/api/v1/build") { _, _ in
            guard await self.supervisor.requestWatch(build: true) else { return DashboardJSON.error(.conflict, notWatching) }
            return DashboardJSON.response(["build": "requested"], status: .accepted)
        }
        for (path, paused) in [("/api/v1/watch/pause", true), ("/api/v1/watch/resume", false)] {
            router.post(RouterPath(path)) { _, _ in
                guard await self.supervisor.requestWatch(paused: paused) else { return DashboardJSON.error(.conflict, notWatching) }
                return DashboardJSON.response(["paused": paused])
            }
        }
        addWatcherRoutes(to: router)
        return router
    }

    /// The page, with this stack's token in it (only a same-origin page can read it).
    func page() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Nothing from elsewhere: no external network, no framing by other pages.
        headers[.contentSecurityPolicy] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        let html = DashboardPage.html.replacingOccurrences(of: "{{TOKEN}}", with: token)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func stateResponse() async -> Response {
        let state = await supervisor.snapshot
        return DashboardJSON.response(StateView(stack: state, newestEvent: supervisor.events.newestID, epoch: supervisor.events.epoch, now: Date()))
    }

    /// Events after `after` (or the `Last-Event-ID` a reconnecting EventSource sends): as
    /// Server-Sent Events when asked for `text/event-stream`, else one JSON list.
    func eventsResponse(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let events = supervisor.events
        let after = EventStream.position(request.headers[HTTPField.Name("Last-Event-ID")!] ?? query["after"].map(String.init), epoch: events.epoch)
        let limit = query["limit"].flatMap { Int(String($0)) } ?? 1000
        guard request.headers[.accept]?.contains("text/event-stream") == true else {
            let slice = events.events(after: after ?? 0, limit: max(1, limit))
            return DashboardJSON.response(EventList(events: slice.events.map(EventView.init), gap: slice.gap, newest: slice.newest, epoch: events.epoch))
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await EventStream(events: events, after: after).run(into: &writer)
        })
    }

    func logsResponse(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let source = query["source"].map(String.init)
        let after = EventStream.position(query["after"].map(String.init), epoch: supervisor.events.epoch) ?? 0
        let limit = query["limit"].flatMap { Int(String($0)) } ?? 2000
        let slice = supervisor.events.events(after: after)
        var lines: [EventView] = []
        for event in slice.events {
            guard case .log(let name, _) = event.payload, source == nil || source == name else { continue }
            lines.append(EventView(event))
        }
        return DashboardJSON.response(LogList(lines: Array(lines.suffix(max(1, limit))), newest: slice.newest, epoch: supervisor.events.epoch))
    }

    // MARK: Watcher

    /// What `devctl watch` in another process does to the stack (``DashboardClient`` calls
    /// these; all POSTs, so all need the token).
    func addWatcherRoutes(to router: Router<BasicRequestContext>) {
        router.post("/api/v1/watcher/say") { request, _ in
            let body: WatcherLine = try await Self.decode(request)
            await self.supervisor.say(body.line)
            return DashboardJSON.response(["ok": true])
        }
        router.post("/api/v1/watcher/build") { request, _ in
            await self.supervisor.recordBuild(try await Self.decode(request))
            return DashboardJSON.response(["ok": true])
        }
        router.post("/api/v1/watcher/watch") { request, _ in
            let body: WatcherRecord = try await Self.decode(request)
            await self.supervisor.recordWatch(body.record)
            return DashboardJSON.response(["ok": true])
        }
        router.post("/api/v1/watcher/state") { _, _ in
            DashboardJSON.response(WatcherRecord(record: await self.supervisor.watchRecord()))
        }
        router.post("/api/v1/watcher/executables") { _, _ in
            DashboardJSON.response(Array(await self.supervisor.executablesInUse()).sorted())
        }
        router.post("/api/v1/watcher/restart") { request, _ in
            let body: WatcherRestart = try await Self.decode(request)
            // Only a build the watcher copied into this stack's own folder, never any program.
            // Both sides with symlinks resolved (`..` included), so neither can fool the check.
            let path = URL(fileURLWithPath: body.executable).resolvingSymlinksInPath().path
            let folder = URL(fileURLWithPath: self.binaryDirectory).resolvingSymlinksInPath().path
            guard path.hasPrefix(folder + "/"), !path.dropFirst(folder.count + 1).contains("/"),
                  FileManager.default.isExecutableFile(atPath: path) else {
                return DashboardJSON.error(.badRequest, "a restart runs only a build copied into \(self.binaryDirectory), not \(body.executable)")
            }
            let notReady = await self.supervisor.restartServices(body.names, executable: path, timeout: .seconds(max(1, min(body.timeoutSeconds, 600))))
            return DashboardJSON.response(notReady)
        }
        router.post("/api/v1/watcher/rebuild") { request, _ in
            let body: WatcherLine = try await Self.decode(request)
            do {
                try await self.supervisor.rebuildService(body.line)
                return DashboardJSON.response(["ok": true])
            } catch {
                return DashboardJSON.error(.unprocessableContent, (error as? any UserFacingError)?.message ?? "\(error)")
            }
        }
        router.post("/api/v1/watcher/apply-config") { _, _ in
            do {
                return DashboardJSON.response(try await self.supervisor.applyConfigFile())
            } catch {
                return DashboardJSON.error(.unprocessableContent, (error as? any UserFacingError)?.message ?? "\(error)")
            }
        }
    }

    static func decode<Body: Decodable>(_ request: Request) async throws -> Body {
        let bytes = try await request.body.collect(upTo: 1 << 20)
        do {
            return try JSONDecoder().decode(Body.self, from: Data(buffer: bytes))
        } catch {
            throw HTTPError(.badRequest, message: "cannot read the request body as \(Body.self): \(error)")
        }
    }

    // MARK: Trust

    /// The hosts a request may be addressed to (not another name that resolves to 127.0.0.1).
    func isOwnAuthority(_ authority: String?) -> Bool {
        let port = self.port
        return authority == "127.0.0.1:\(port)" || authority == "localhost:\(port)"
    }

    /// Why a POST is refused (nil: allowed).
    func refusal(of request: Request) -> String? {
        if let origin = request.headers[.origin], !isOwnAuthority(origin.replacingOccurrences(of: "http://", with: "", options: .anchored)) || !origin.hasPrefix("http://") {
            return "requests from \(origin) may not act on this stack (only the dashboard's own page may)"
        }
        guard let given = request.headers[HTTPField.Name("X-Devctl-Token")!], Self.constantTimeEqual(given, token) else {
            return "this action needs the stack's token in X-Devctl-Token (the dashboard page has it; scripts read .devctl/run/dashboard.token)"
        }
        return nil
    }

    static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8), b = Array(right.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    private func writeToken() throws {
        unlink(tokenFile)
        let descriptor = open(tokenFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw DevctlFailure("cannot write the dashboard's token to \(tokenFile): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array((token + "\n").utf8)
        guard Glibc.write(descriptor, bytes, bytes.count) == bytes.count else {
            throw DevctlFailure("cannot write the dashboard's token to \(tokenFile): \(String(cString: strerror(errno)))")
        }
    }
}

/// Refuses requests not addressed to the dashboard itself, and POSTs without the token or from
/// another origin.
struct LoopbackGuard: RouterMiddleware {
    typealias Context = BasicRequestContext
    let dashboard: Dashboard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard dashboard.isOwnAuthority(request.head.authority) else {
            return DashboardJSON.error(.misdirectedRequest, "this dashboard answers only requests to 127.0.0.1:\(dashboard.port) or localhost:\(dashboard.port)")
        }
        if request.method != .get, request.method != .head, let refusal = dashboard.refusal(of: request) {
            return DashboardJSON.error(.forbidden, refusal)
        }
        return try await next(request, context)
    }
}
