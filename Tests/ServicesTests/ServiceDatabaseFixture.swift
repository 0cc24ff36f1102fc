import Database
import DevctlCore
import Foundation
import Logging
import StackModel

/// A real PostgreSQL (devctl's embedded cluster, on a free port in a temp folder) with one
/// service's database created and migrated from the repository's migration files.
struct ServiceDatabaseFixture {
    let root: String
    let manager: DatabaseManager
    let databaseURL: String

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs `body` with the database ready; stops and deletes the cluster afterwards.
    static func with(service: String, database: String, migrations: String, _ body: (ServiceDatabaseFixture) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-svc-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        guard let port = PortProbe.ephemeralPort() else { throw DevctlFailure("no free port") }
        try """
            postgres:
              port: \(port)
            services:
              \(service):
                kind: rest
                port: 19201
                database: \(database)
                migrations: migrations
            """.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: repositoryRoot + "/" + migrations, toPath: root + "/migrations")
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let manager = try DatabaseManager(config: StackConfig.load(contentsOf: root + "/devctl.yaml"), repositoryRoot: root, logger: logger)
        let fixture = ServiceDatabaseFixture(root: root, manager: manager, databaseURL: manager.endpoint.url(database: database))
        do {
            _ = try await manager.initialize()
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
