import Database
import DevctlCore
import Foundation
import TestSupport
import Logging
import StackModel

/// A real PostgreSQL (devctl's embedded cluster, on a free port in a temp folder) with services'
/// databases created and migrated from the repository's migration files.
struct ServiceDatabaseFixture {
    /// One service whose database the fixture creates.
    struct Service {
        var name: String
        var database: String
        var migrations: String
    }

    static let greeter = Service(name: "greeter", database: "greeter_db", migrations: "Sources/Services/Greeter/Migrations")
    static let caller = Service(name: "caller", database: "caller_db", migrations: "Sources/Services/Caller/Migrations")
    static let gateway = Service(name: "gateway", database: "gateway_db", migrations: "Sources/Services/Gateway/Migrations")
    static let customLang = Service(name: "custom-lang", database: "lang_db", migrations: "Sources/Services/CustomLang/Migrations")

    let root: String
    let manager: DatabaseManager
    /// The URL of the first service's database.
    let databaseURL: String

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `postgresql://…/<database>` on this fixture's cluster.
    func url(_ service: Service) -> String { manager.endpoint.url(database: service.database) }

    /// The one value `sql` selects from the service's database, as text, for assertions.
    func scalar(_ sql: String, in service: Service) async throws -> String? {
        try await manager.scalar("SELECT (\(sql))::text", in: service.database)
    }

    /// Runs `body` with one service's database ready.
    static func with(service: String, database: String, migrations: String, _ body: (ServiceDatabaseFixture) async throws -> Void) async throws {
        try await with([Service(name: service, database: database, migrations: migrations)], body)
    }

    /// Runs `body` with every service's database ready; stops and deletes the cluster afterwards.
    /// A free port can be taken by another process between choosing it and PostgreSQL binding
    /// it (parallel test runs): then the cluster is set up again on another port.
    static func with(_ services: [Service], _ body: (ServiceDatabaseFixture) async throws -> Void) async throws {
        try await TestSlots.postgresClusters.with { try await withRetries(services, body) }
    }

    private static func withRetries(_ services: [Service], _ body: (ServiceDatabaseFixture) async throws -> Void) async throws {
        for attempt in 1...3 {
            do {
                return try await withOnce(services, body)
            } catch is PortTaken where attempt < 3 {
                continue
            } catch let race as PortTaken {
                throw race.underlying
            }
        }
    }

    /// The cluster could not start because its port was taken meanwhile.
    private struct PortTaken: Error {
        var underlying: any Error
    }

    private static func withOnce(_ services: [Service], _ body: (ServiceDatabaseFixture) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-svc-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let port = try FreePorts.take()
        var yaml = "postgres:\n  port: \(port)\nservices:\n"
        for (index, service) in services.enumerated() {
            let folder = "migrations/\(service.name)"
            yaml += "  \(service.name):\n    kind: rest\n    port: \(19201 + index)\n    database: \(service.database)\n    migrations: \(folder)\n"
            try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: repositoryRoot + "/" + service.migrations, toPath: root + "/" + folder)
        }
        try yaml.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let manager = try DatabaseManager(config: StackConfig.load(contentsOf: root + "/devctl.yaml"), repositoryRoot: root, logger: logger)
        let fixture = ServiceDatabaseFixture(root: root, manager: manager, databaseURL: manager.endpoint.url(database: services.first?.database ?? "postgres"))
        do {
            _ = try await manager.initialize()
        } catch {
            try? await manager.embedded?.purge()
            try? FileManager.default.removeItem(atPath: root)
            if let failure = error as? any UserFacingError, FreePorts.wasTaken(failure.message) { throw PortTaken(underlying: error) }
            throw error
        }
        do {
            try await body(fixture)
        } catch {
            try? await manager.embedded?.purge()
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
        try? await manager.embedded?.purge()
        try? FileManager.default.removeItem(atPath: root)
    }
}
