import Foundation
import Hummingbird
import Logging
import Metrics
import NIOConcurrencyHelpers
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// What every service shares, written once: logging, the database pool, health, readiness,
/// metrics, request logs, the body limit, and graceful shutdown.
public struct ServicePlatform: Sendable {
    public let settings: ServiceSettings
    public let logger: Logger
    /// The service's pooled connection to its own database.
    public let database: PostgresClient

    /// The process-wide Prometheus registry (swift-metrics can be bootstrapped once per process).
    public static let metricsRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    public init(settings: ServiceSettings, logger: Logger? = nil) throws {
        if let problem = settings.invalidValues.first {
            throw ServiceStartupError(service: settings.name, message: problem)
        }
        self.settings = settings
        var logger = logger ?? Logger(label: settings.name) { JSONLogHandler(label: $0, level: settings.logLevel) }
        logger[metadataKey: "service"] = "\(settings.name)"
        self.logger = logger
        _ = Self.metricsRegistry
        DatabaseMetrics.shared.configure(maximumConnections: Self.maximumConnections)
        database = PostgresClient(configuration: try Self.postgresConfiguration(settings.databaseURL, service: settings.name), backgroundLogger: logger)
    }

    /// The pool's size; exported as `db_pool_max_connections`.
    static let maximumConnections = 10

    static func postgresConfiguration(_ url: String, service: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let host = components.host,
              ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw ServiceStartupError(service: service, message: "DATABASE_URL is not a postgresql:// URL")
        }
        let database = String(components.path.drop { $0 == "/" })
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: .disable
        )
        configuration.options.connectTimeout = .seconds(3)
        configuration.options.maximumConnections = maximumConnections
        return configuration
    }

    /// A router with the platform's routes and middleware; the service adds its own routes.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.get("/healthz") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#))) }
        router.get("/readyz") { _, _ in
            await isDatabaseReady()
                ? Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ready"}"#)))
                : Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"database unavailable"}"#)))
        }
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Self.metricsRegistry.emitToBuffer())))
        }
        return router
    }

    /// True when the database answers `SELECT 1` within a second (also the `db_up` gauge).
    public func isDatabaseReady() async -> Bool {
        let ready = await checkDatabase()
        DatabaseMetrics.shared.up(ready)
        return ready
    }

    private func checkDatabase() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await database.query("SELECT 1", logger: logger)) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(1))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Runs a database call with a deadline: while the database is down the pool waits for a
    /// connection (up to its circuit breaker), but a request should fail fast with 503.
    public func withDatabaseDeadline<T: Sendable>(_ timeout: Duration = .seconds(3), _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let inFlight = DatabaseMetrics.shared.begin()
        defer { DatabaseMetrics.shared.end(inFlight) }
        do {
            return try await withTimeout(timeout, body) { DatabaseUnavailable() }
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
            configuration: .init(address: .hostname(settings.host, port: port ?? settings.port), serverName: settings.name),
            services: [database],
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
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: makeApplication(router: router))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = Self.shutdownGracePeriod
        logger.info("starting", metadata: ["port": "\(settings.port)"])
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
