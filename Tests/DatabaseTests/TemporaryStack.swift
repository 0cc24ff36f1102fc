import Database
import DevctlCore
import Foundation
import TestSupport
import Logging
import PostgresNIO
import StackModel

/// A throw-away repository (devctl.yaml + migrations) on a free port, for one test.
///
/// The embedded cluster it starts is stopped and deleted afterwards, wherever it lives.
struct TemporaryStack {
    let root: String
    let postgresPort: Int

    /// Two services, `alpha` (alpha_db) and `beta` (beta_db), one migration each.
    static func make() throws -> TemporaryStack {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let port = try FreePorts.take()
        let stack = TemporaryStack(root: root, postgresPort: port)
        try stack.write("devctl.yaml", """
            version: 1
            postgres:
              port: \(port)
            services:
              alpha:
                kind: rpc
                port: 19001
                database: alpha_db
                migrations: migrations/alpha
              beta:
                kind: rest
                port: 19002
                database: beta_db
                migrations: migrations/beta
                depends_on: [alpha]
            """)
        try stack.write("migrations/alpha/0001_create_things.sql", """
            CREATE TABLE things (
                id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL
            );
            INSERT INTO things (name) VALUES ('first; with a semicolon');
            """)
        try stack.write("migrations/beta/0001_create_items.sql", """
            CREATE TABLE items (id uuid PRIMARY KEY DEFAULT gen_random_uuid());
            """)
        return stack
    }

    func write(_ relativePath: String, _ text: String) throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func config() throws -> StackConfig {
        try StackConfig.load(contentsOf: root + "/devctl.yaml", displayName: "devctl.yaml")
    }

    func manager() throws -> DatabaseManager {
        var logger = Logger(label: "devctl.db.test")
        logger.logLevel = .warning
        return try DatabaseManager(config: config(), repositoryRoot: root, logger: logger)
    }

    /// Stops and deletes the cluster, then the folder.
    func destroy() async {
        if let embedded = try? manager().embedded {
            try? await embedded.purge()
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs `body` with a fresh stack and always cleans up. The free port is chosen before
    /// PostgreSQL binds it, so another process can take it meanwhile: then `body` runs again
    /// on a new stack (at most three times), instead of failing by luck.
    static func with<Result>(_ body: (TemporaryStack) async throws -> Result) async throws -> Result {
        try await TestSlots.postgresClusters.with { try await withRetries(body) }
    }

    private static func withRetries<Result>(_ body: (TemporaryStack) async throws -> Result) async throws -> Result {
        for attempt in 1...3 {
            let stack = try make()
            do {
                let result = try await body(stack)
                await stack.destroy()
                return result
            } catch let error as any UserFacingError where attempt < 3 && error.message.contains("port \(stack.postgresPort)") && error.message.contains("in use") {
                await stack.destroy()
                continue
            } catch {
                await stack.destroy()
                throw error
            }
        }
        throw DevctlFailure("unreachable")
    }

    /// Rows of a one-column text query against one of the stack's databases.
    func strings(_ sql: String, database: String) async throws -> [String] {
        let configuration = PostgresConnection.Configuration(
            host: "127.0.0.1", port: postgresPort, username: "devuser", password: "devpass",
            database: database, tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "test"))
        defer { Task { try? await connection.close() } }
        var values: [String] = []
        for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")).decode(String.self) {
            values.append(value)
        }
        return values
    }
}
