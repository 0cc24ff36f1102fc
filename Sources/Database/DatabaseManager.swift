import DevctlCore
import Foundation
import Logging
import PostgresNIO
import StackModel

/// `devctl db …`: the stack's databases on the embedded cluster or on `DATABASE_URL`.
///
/// One database per service that declares one, each with its own migrations folder.
public struct DatabaseManager: Sendable {
    public let config: StackConfig
    /// The folder holding devctl.yaml; migration paths are relative to it.
    public let repositoryRoot: String
    /// Where the server is and how to log in.
    public let endpoint: PostgresEndpoint
    /// devctl's own cluster, or `nil` with `DATABASE_URL`.
    public let embedded: EmbeddedPostgres?
    let logger: Logger
    /// How long a migration waits for another migrator's lock before naming who holds it.
    public var migrationLockTimeout: Duration = .seconds(60)

    /// - Parameter databaseURL: a server to use instead of the embedded cluster; `.devctl/` is
    ///   then never touched.
    public init(config: StackConfig, repositoryRoot: String, databaseURL: String? = nil, logger: Logger = Logger(label: "devctl.db")) throws {
        self.config = config
        self.repositoryRoot = repositoryRoot
        self.logger = logger
        if let databaseURL, !databaseURL.isEmpty {
            endpoint = try PostgresEndpoint(url: databaseURL)
            embedded = nil
        } else {
            endpoint = PostgresEndpoint(embedded: config.postgres)
            embedded = try EmbeddedPostgres(stateDirectory: repositoryRoot + "/.devctl", settings: config.postgres)
        }
    }

    /// Services that own a database, in start order.
    public var servicesWithDatabases: [ServiceSpec] {
        ((try? config.startOrder()) ?? config.services).filter { $0.database != nil }
    }

    // MARK: Server

    /// Starts the embedded cluster if needed (initialising it on first use); with `DATABASE_URL`,
    /// checks that the server answers.
    public func startServer() async throws -> ServerReport {
        guard let embedded else {
            try await withConnection(to: endpoint.maintenanceDatabase) { _ in }
            return serverReport(state: "reachable")
        }
        let outcome = try await embedded.start()
        var report = serverReport()
        report.initialized = outcome.initialized
        report.started = outcome.started
        return report
    }

    /// Stops the embedded cluster; with `DATABASE_URL` there is nothing of ours to stop.
    public func stopServer() async throws -> ServerReport {
        guard let embedded else {
            var report = serverReport(state: "external")
            report.note = "DATABASE_URL points at a server devctl does not manage; nothing was stopped"
            return report
        }
        let wasRunning = try await embedded.stop()
        var report = serverReport()
        report.stopped = wasRunning
        return report
    }

    /// The server as it is now, without starting or connecting.
    public func serverReport(state externalState: String? = nil) -> ServerReport {
        guard let embedded else {
            return ServerReport(mode: "external", address: endpoint.displayAddress, state: externalState ?? "unknown")
        }
        var report = ServerReport(mode: "embedded", address: endpoint.displayAddress, state: "stopped",
                                  dataDirectory: embedded.dataDirectory, logFile: embedded.logFile,
                                  note: embedded.relocationNote)
        switch embedded.state() {
        case .notInitialized: report.state = "not-initialized"
        case .stopped: report.state = "stopped"
        case .running(let pid, _):
            report.state = "running"
            report.pid = pid
        }
        return report
    }

    // MARK: Databases

    /// `db init`: start the server, create every missing database, apply pending migrations.
    /// Idempotent: a second run changes nothing and reports `changed: false`.
    public func initialize(services names: [String]? = nil) async throws -> DatabasesReport {
        let server = try await startServer()
        let services = try selected(names)
        let created = try await createMissingDatabases(services)
        var reports: [DatabaseReport] = []
        for service in services {
            var report = try await migrate(service)
            report.created = created.contains(service.name)
            reports.append(report)
        }
        return summary(server: server, reports)
    }

    /// `db migrate`: apply pending migrations; every database must exist (`db init` creates them).
    public func migrate(services names: [String]? = nil) async throws -> DatabasesReport {
        let server = try await startServer()
        var reports: [DatabaseReport] = []
        for service in try selected(names) {
            reports.append(try await migrate(service))
        }
        return summary(server: server, reports)
    }

    /// `db status`: read-only; never starts the server or creates anything.
    public func status() async throws -> DatabasesReport {
        var server = serverReport()
        let services = servicesWithDatabases
        if let embedded {
            guard case .running = embedded.state() else {
                let reports = try services.map { service in
                    var report = try pendingOnly(service)
                    report.exists = nil
                    return report
                }
                return DatabasesReport(server: server, databases: reports, changed: false, upToDate: false)
            }
        } else {
            server.state = "reachable"
        }
        let existing = try await existingDatabases()
        var reports: [DatabaseReport] = []
        for service in services {
            let (database, migrations) = try target(of: service)
            guard existing.contains(database) else {
                var report = try pendingOnly(service)
                report.exists = false
                reports.append(report)
                continue
            }
            let plan = try await withConnection(to: database) { connection in
                try await Migrator(connection: connection, database: database, logger: logger).plan(for: migrations)
            }
            reports.append(DatabaseReport(
                service: service.name, database: database, exists: true, applied: plan.applied.count,
                pending: plan.pending.map(\.identifier), drifted: plan.drifted.map(\.identifier),
                missing: plan.missing.map { String(format: "%04lld_%@", $0.version, $0.name) }
            ))
        }
        return DatabasesReport(server: server, databases: reports, changed: false,
                               upToDate: reports.allSatisfy(\.isUpToDate))
    }

    /// `db reset SERVICE`: drop the service's database (disconnecting its clients), create it
    /// again and apply every migration.
    public func reset(service name: String) async throws -> DatabasesReport {
        guard let service = config.service(named: name) else {
            throw UnknownServiceError(name: name, known: config.services.map(\.name))
        }
        guard let database = service.database else {
            throw DevctlFailure("service \(name) has no database (devctl.yaml: services.\(name).database)", exitCode: 2)
        }
        let server = try await startServer()
        try await withConnection(to: endpoint.maintenanceDatabase) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(quoteIdentifier(database)) WITH (FORCE)"), logger: logger)
        }
        logger.notice("database dropped", metadata: ["database": "\(database)"])
        _ = try await createMissingDatabases([service])
        var report = try await migrate(service)
        report.created = true
        return summary(server: server, [report])
    }

    // MARK: Internals

    private func selected(_ names: [String]?) throws -> [ServiceSpec] {
        guard let names, !names.isEmpty else { return servicesWithDatabases }
        return try names.map { name in
            guard let service = config.service(named: name) else {
                throw UnknownServiceError(name: name, known: config.services.map(\.name))
            }
            guard service.database != nil else {
                throw DevctlFailure("service \(name) has no database (devctl.yaml: services.\(name).database)", exitCode: 2)
            }
            return service
        }
    }

    private func target(of service: ServiceSpec) throws -> (database: String, migrations: [Migration]) {
        let database = service.database ?? service.name
        let relative = service.migrations ?? "migrations/\(service.name)"
        let migrations = try Migration.load(from: repositoryRoot + "/" + relative, displayPath: relative)
        return (database, migrations)
    }

    /// A report with every migration pending (for databases that are missing or unreachable).
    private func pendingOnly(_ service: ServiceSpec) throws -> DatabaseReport {
        let (database, migrations) = try target(of: service)
        return DatabaseReport(service: service.name, database: database, exists: false,
                              pending: migrations.map(\.identifier))
    }

    private func migrate(_ service: ServiceSpec) async throws -> DatabaseReport {
        let (database, migrations) = try target(of: service)
        let existing = try await existingDatabases()
        guard existing.contains(database) else {
            throw DevctlFailure(
                "database \(database) (service \(service.name)) does not exist on \(endpoint.displayAddress)",
                hint: "run `devctl db init` to create it"
            )
        }
        return try await withConnection(to: database) { connection in
            var migrator = Migrator(connection: connection, database: database, logger: logger)
            migrator.lockTimeout = migrationLockTimeout
            let applied = try await migrator.migrate(migrations)
            let plan = try await migrator.plan(for: migrations)
            return DatabaseReport(service: service.name, database: database, exists: true,
                                  newlyApplied: applied, applied: plan.applied.count,
                                  pending: plan.pending.map(\.identifier))
        }
    }

    private func existingDatabases() async throws -> Set<String> {
        try await withConnection(to: endpoint.maintenanceDatabase) { connection in
            var names = Set<String>()
            let rows = try await connection.query("SELECT datname FROM pg_database", logger: logger)
            for try await name in rows.decode(String.self) { names.insert(name) }
            return names
        }
    }

    /// Creates the databases that do not exist; returns the services whose database was created.
    /// An advisory lock serialises concurrent `db init` runs.
    private func createMissingDatabases(_ services: [ServiceSpec]) async throws -> Set<String> {
        try await withConnection(to: endpoint.maintenanceDatabase) { connection in
            try await Migrator.acquireAdvisoryLock(on: connection, database: endpoint.maintenanceDatabase, timeout: migrationLockTimeout, logger: logger)
            var created = Set<String>()
            for service in services {
                guard let database = service.database else { continue }
                let exists = try await connection.query(
                    "SELECT 1 FROM pg_database WHERE datname = \(database)", logger: logger
                ).collect().isEmpty == false
                guard !exists else { continue }
                do {
                    // Identifiers cannot be bound as parameters; names are validated by StackModel.
                    try await connection.query(
                        PostgresQuery(unsafeSQL: "CREATE DATABASE \(quoteIdentifier(database)) OWNER \(quoteIdentifier(endpoint.user)) ENCODING 'UTF8'"),
                        logger: logger)
                } catch {
                    throw DevctlFailure(
                        "cannot create database \(database) for service \(service.name) on \(endpoint.displayAddress): \(describePostgresError(error))",
                        hint: "the role \(endpoint.user) needs the CREATEDB privilege (ALTER ROLE \(endpoint.user) CREATEDB)"
                    )
                }
                logger.notice("database created", metadata: ["database": "\(database)", "service": "\(service.name)"])
                created.insert(service.name)
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(\(Migrator.advisoryLockKey))", logger: logger)
            return created
        }
    }

    private func summary(server: ServerReport, _ reports: [DatabaseReport]) -> DatabasesReport {
        var server = server
        if embedded != nil { server = mergedServerState(server) }
        let changed = server.initialized || server.started
            || reports.contains { $0.created || !$0.newlyApplied.isEmpty }
        return DatabasesReport(server: server, databases: reports, changed: changed,
                               upToDate: reports.allSatisfy(\.isUpToDate))
    }

    /// The report's flags with the current state (pid, running) filled in.
    private func mergedServerState(_ report: ServerReport) -> ServerReport {
        var current = serverReport()
        current.initialized = report.initialized
        current.started = report.started
        current.stopped = report.stopped
        return current
    }

    /// Runs `body` on a fresh connection to `database`, closing it afterwards.
    @discardableResult
    func withConnection<Result: Sendable>(
        to database: String,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let configuration = try endpoint.connectionConfiguration(database: database, limits: .tool)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw DevctlFailure(
                "cannot connect to PostgreSQL at \(endpoint.displayAddress) as \(endpoint.user) (database \(database)): \(describePostgresError(error))",
                hint: embedded == nil
                    ? "check DATABASE_URL and that the server is running"
                    : "run `devctl db start`; if the cluster was created with another user or password, stop it and delete \(embedded?.clusterDirectory ?? ".devctl/postgres")"
            )
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}

/// `name` as a quoted SQL identifier.
func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

extension DatabaseManager {
    /// The first column of the first row of `sql` on `database`, as text (for tools and tests).
    public func scalar(_ sql: String, in database: String) async throws -> String? {
        try await withConnection(to: database) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first?.decode(String?.self)
        }
    }
}
