import ConnectRPC
import Database
import DevctlCore
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOConcurrencyHelpers
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Telemetry

/// What every service shares, written once: logging, the database pool, health, readiness,
/// metrics, request logs, the body limit, and graceful shutdown.
public struct ServicePlatform: Sendable {
    public let settings: ServiceSettings
    public let logger: Logger
    /// The service's pooled connections to its own database: the pool of the event loop the
    /// caller runs on (one per loop, see ``PerEventLoop``; `DB_POOL_MAX` is shared among them),
    /// so a request's queries never leave its thread.
    public var database: LoopConnectionPool { databases.current }
    /// Every loop's pool.
    let databases: PerEventLoop<LoopConnectionPool>
    /// The span exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` turned tracing on (it runs first in
    /// the service group, so it stops last and flushes).
    let tracing: (any Service)?
    /// The database's name (the path of `DATABASE_URL`), for database spans.
    let databaseName: String
    /// The last reason readiness failed, so that each change is logged once.
    private let databaseFailure = NIOLockedValueBox<String?>(nil)

    /// The process-wide Prometheus registry (swift-metrics can be bootstrapped once per process).
    public static let metricsRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// `executor_jobs_enqueued_total`: Swift Concurrency jobs the event loops were handed (see
    /// ``EventLoopGlobalExecutor``), brought up to date at each scrape. Per request it is the
    /// runtime's round trips through the loop's queue; a regression there shows up here first.
    static let executorJobs = ScrapedCounter(
        Self.metricsRegistry.makeCounter(name: "executor_jobs_enqueued_total",
                                         help: "Swift Concurrency jobs enqueued on the event loops (0 when the loops are not the global executor)"),
        read: { EventLoopGlobalExecutor.enqueuedJobs })

    public init(settings: ServiceSettings, logger: Logger? = nil) throws {
        if let problem = settings.invalidValues.first {
            throw ServiceStartupError(service: settings.name, message: problem)
        }
        self.settings = settings
        // Tracing first: before any HTTP client exists (see TracingBootstrap), and a bad OTEL_*
        // value stops the start-up here, named, instead of crashing the SDK later.
        let telemetry: TelemetrySettings?
        do {
            telemetry = try TelemetrySettings.from(environment: settings.environment, serviceName: settings.name)
        } catch {
            throw ServiceStartupError(service: settings.name, message: error.description)
        }
        var logger = logger ?? Logger(label: settings.name) { label in
            var handler = JSONLogHandler(label: label, level: settings.logLevel)
            if telemetry != nil { handler.metadataProvider = TracingBootstrap.loggingMetadataProvider }
            return handler
        }
        logger[metadataKey: "service"] = "\(settings.name)"
        self.logger = logger
        if let telemetry {
            tracing = try TracingBootstrap.start(telemetry, environment: settings.environment, logger: logger)
            ConnectTracing.enable()
        } else {
            tracing = nil
        }
        _ = Self.metricsRegistry
        DatabaseMetrics.shared.configure(maximumConnections: settings.databasePoolMaximum)
        // A service without a database still has a (never started) pool, so that the platform's
        // shape is one; readiness and database calls then know there is none.
        let url = settings.usesDatabase ? settings.databaseURL : "postgresql://none@127.0.0.1:1/none"
        let configuration = try Self.postgresConfiguration(url, service: settings.name)
        databaseName = configuration.database ?? ""
        let maximum = PerEventLoop<LoopConnectionPool>.share(of: settings.databasePoolMaximum)
        let minimum = settings.databasePoolMinimum > 0 ? min(PerEventLoop<LoopConnectionPool>.share(of: settings.databasePoolMinimum), maximum) : 0
        databases = PerEventLoop { loop in
            LoopConnectionPool(eventLoop: loop, configuration: configuration, maximum: maximum, minimum: minimum, logger: logger)
        }
    }

    /// The connections' settings from `DATABASE_URL`, read by the same parser as devctl's own
    /// (`sslmode` included: `require` never falls back to plaintext), with the service session
    /// limits (`statement_timeout`, `lock_timeout`) on every connection.
    static func postgresConfiguration(_ url: String, service: String) throws -> PostgresConnection.Configuration {
        let endpoint: PostgresEndpoint
        do {
            endpoint = try PostgresEndpoint(url: url)
        } catch let error as any UserFacingError {
            throw ServiceStartupError(service: service, message: error.message + (error.hint.map { "; \($0)" } ?? ""))
        }
        do {
            var configuration = try endpoint.connectionConfiguration(database: endpoint.maintenanceDatabase, limits: .service(service))
            configuration.options.connectTimeout = .seconds(3)
            return configuration
        } catch {
            throw ServiceStartupError(service: service, message: "DATABASE_URL's TLS settings could not be loaded: \(error)")
        }
    }

    /// A router with the platform's routes and middleware; the service adds its own routes.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        // Outermost: the request log line (and everything else) runs inside the request's span.
        if tracing != nil { router.add(middleware: ServerSpanMiddleware()) }
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: RequestMetricsMiddleware())
        router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#))) }
        router.get("/readyz") { _, _ in
            await isDatabaseReady()
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ready"}"#)))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"database unavailable"}"#)))
        }
        // gRPC health checking (grpc_health_probe, Kubernetes gRPC probes) from the same readiness.
        HealthService(platform: self).registerConnect(on: router)
        // Server reflection (grpcurl list/describe, Postman): v1 and the older v1alpha.
        ReflectionService().registerConnect(on: router)
        ReflectionServiceV1Alpha().registerConnect(on: router)
        router.get("/metrics") { _, _ in
            Self.executorJobs.report()
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Self.metricsRegistry.emitToBuffer())))
        }
        return router
    }

    /// True when the database answers `SELECT 1` within a second (also the `db_up` gauge).
    public func isDatabaseReady() async -> Bool {
        guard settings.usesDatabase else { return true }
        let ready = await checkDatabase()
        if ready, databaseFailure.withLockedValue({ last in defer { last = nil }; return last != nil }) {
            logger.info("database available again")
        }
        DatabaseMetrics.shared.up(ready)
        return ready
    }

    private func checkDatabase() async -> Bool {
        // Not waiting for a query that hangs (a hung server): /readyz answers within a second.
        do {
            try await LoopConnectionPool.withDeadline(.now() + .seconds(1)) {
                try await database.withConnection { [logger] in _ = try await $0.query("SELECT 1", logger: logger).collect() }
            }
            return true
        } catch {
            // Once per change, not per probe: why the database is unreachable (a TLS mismatch,
            // a wrong password) is a configuration problem the log must name.
            let reason = error is DatabaseUnavailable ? "no answer within 1 s" : describePostgresError(error)
            if databaseFailure.withLockedValue({ last in defer { last = reason }; return last != reason }) {
                logger.error("database unavailable", metadata: ["reason": "\(reason)"])
            }
            return false
        }
    }

    /// Runs a database call with a deadline: a connection can take up to its connect timeout to
    /// fail, a call can wait for a free connection, and a query can hang on a lock or a hung server,
    /// but a request answers 503/unavailable within `timeout` all the same. The server's own
    /// `statement_timeout`/`lock_timeout` (2.5 s/2 s, below the budget) cancel the query first,
    /// so a write that timed out is rolled back rather than applied after the answer. A call
    /// whose request was already answered (cancelled) does not start at all.
    ///
    /// The pool enforces it (``LoopConnectionPool/withDeadline(_:_:)``): a waiter leaves the
    /// queue, a connect gives up, a connection still busy at the deadline is closed. That is one
    /// loop timer per call where a race would add a task, its scheduling and a continuation.
    public func withDatabaseDeadline<T: Sendable>(_ timeout: Duration = .seconds(3), _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let inFlight = DatabaseMetrics.shared.begin()
        defer { DatabaseMetrics.shared.end(inFlight) }
        do {
            guard settings.usesDatabase else { throw DatabaseUnavailable() }
            try Task.checkCancellation()
            // Inside a request answered at a sooner instant (its `Connect-Timeout-Ms`), that
            // instant bounds the call too: its connection is not left busy after the answer.
            var budget = timeout
            if let enforced = EnforcedDeadline.current { budget = min(budget, ContinuousClock.now.duration(to: enforced)) }
            return try await LoopConnectionPool.withDeadline(.now() + TimeAmount(budget), body)
        } catch {
            DatabaseMetrics.shared.failed()
            throw error
        }
    }

    /// The database did not answer in time.
    public struct DatabaseUnavailable: Error {}

    /// The application: the router, the database pool as a service, graceful shutdown on
    /// SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the pool).
    public func makeApplication(router: Router<BasicRequestContext>, port: Int? = nil) -> some ApplicationProtocol {
        Application(
            router: router,
            // Connect and gRPC-Web over HTTP/1.1, gRPC (and the edge) over h2c, on one port.
            server: .http1AndH2C(responder: router.buildResponder(), serverName: settings.name),
            configuration: .init(address: .hostname(settings.host, port: port ?? settings.port), serverName: settings.name),
            services: settings.usesDatabase ? databases.all : [],
            logger: logger
        )
    }
}

extension ServicePlatform {
    /// How long a graceful shutdown may take before the process gives up on in-flight requests.
    public static let shutdownGracePeriod: Duration = .seconds(10)

    /// Serves `router` until SIGTERM/SIGINT, then shuts down gracefully: the listener closes,
    /// in-flight requests finish (at most ``shutdownGracePeriod``), then the pool closes.
    public func run(router: Router<BasicRequestContext>) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: makeApplication(router: router))]
        // First in, last out: spans of the last requests are flushed after the server stopped.
        if let tracing { services.insert(.init(service: tracing), at: 0) }
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = Self.shutdownGracePeriod
        logger.info("starting", metadata: ["port": "\(settings.port)"])
        warnIfConcurrencyIsNotOnEventLoops()
        try await ServiceGroup(configuration: configuration).run()
        logger.info("stopped")
    }
}

/// A service could not start: bad configuration it can name.
public struct ServiceStartupError: Error, CustomStringConvertible {
    public var service: String
    public var message: String

    public var description: String { "\(service): \(message)" }
}

extension ServicePlatform {
    /// Runs a prepared statement that returns no rows (the services' hot INSERTs). Each pooled
    /// connection parses it once and then only binds and executes it: less work per request
    /// for PostgreSQL than sending the SQL every time (what pgx does for the Go peer by default).
    ///
    /// postgres-nio remembers a failed preparation for the connection's lifetime and fails every
    /// later use of the statement there (a lock timeout while preparing, or a table that a
    /// migration creates later, would break that connection for good). So a connection on which
    /// the statement failed server-side is closed, and the pool opens a fresh one.
    public func execute<Statement: PreparedInsert>(_ statement: Statement) async throws {
        try await DatabaseSpans.run(sql: Statement.sql, database: databaseName) {
            try await executeUntraced(statement)
        }
    }

    /// A query on the pool, in a database span when tracing is on (use this, not
    /// `database.query`, so that every query shows in a trace).
    /// The rows are read inside the span (they stream from the server after the query starts).
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await DatabaseSpans.run(sql: query.sql, database: databaseName) {
            try await database.withConnection { try await $0.query(query, logger: logger).collect() }
        }
    }

    private func executeUntraced<Statement: PreparedInsert>(_ statement: Statement) async throws {
        try await database.withConnection { [logger] connection in
            do {
                _ = try await connection.execute(statement, logger: logger)
            } catch let error as PSQLError where error.code == .server {
                try? await connection.close()
                throw error
            }
        }
    }
}

/// A prepared statement that returns no rows (the services' INSERTs): it only says its SQL,
/// parameter types and values. Declare `static let name` too: postgres-nio's default name is
/// `String(reflecting:)` of the type, rebuilt on every execution (~1 % of a service's CPU).
public protocol PreparedInsert: PostgresPreparedStatement where Row == () {}

extension PreparedInsert {
    public func decodeRow(_ row: PostgresRow) throws {}
}
