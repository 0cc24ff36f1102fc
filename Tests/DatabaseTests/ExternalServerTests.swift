import Database
import DevctlCore
import Foundation
import Logging
import Testing

@Suite struct ExternalServerTests {
    @Test func databaseURLIsUsedAndDevctlFolderIsNeverTouched() async throws {
        try await TemporaryStack.with { server in
            // `server` provides a running PostgreSQL; `client` reaches it only through a URL.
            _ = try await server.manager().startServer()
            try await TemporaryStack.with { client in
                var logger = Logger(label: "test")
                logger.logLevel = .warning
                let url = "postgresql://devuser:devpass@127.0.0.1:\(server.postgresPort)/postgres"
                let manager = try DatabaseManager(config: client.config(), repositoryRoot: client.root, databaseURL: url, logger: logger)
                #expect(manager.embedded == nil)
                let report = try await manager.initialize()
                #expect(report.server.mode == "external")
                #expect(report.server.address == "127.0.0.1:\(server.postgresPort)")
                #expect(report.upToDate)
                #expect(try await server.strings("SELECT name FROM things", database: "alpha_db") == ["first; with a semicolon"])
                #expect(!FileManager.default.fileExists(atPath: client.root + "/.devctl"))
                let stopped = try await manager.stopServer()
                #expect(!stopped.stopped)
                #expect(try await server.strings("SELECT 'still up'", database: "postgres") == ["still up"])
            }
        }
    }

    @Test func wrongPasswordIsAClearConnectionError() async throws {
        try await TemporaryStack.with { server in
            _ = try await server.manager().startServer()
            let url = "postgresql://devuser:wrong@127.0.0.1:\(server.postgresPort)/postgres"
            let manager = try DatabaseManager(config: server.config(), repositoryRoot: server.root, databaseURL: url)
            let error = await #expect(throws: DevctlFailure.self) { try await manager.initialize() }
            let message = error?.message ?? ""
            #expect(message.hasPrefix("cannot connect to PostgreSQL at 127.0.0.1:\(server.postgresPort) as devuser (database postgres): password authentication failed"))
            #expect(!message.contains("wrong"))
        }
    }
}

@Suite struct PostgresEndpointTests {
    @Test func parsesAndRedactsURLs() throws {
        let endpoint = try PostgresEndpoint(url: "postgres://app%40x:p%2Fss@db.internal:6543/main?sslmode=require")
        #expect(endpoint == PostgresEndpoint(host: "db.internal", port: 6543, user: "app@x", password: "p/ss",
                                             maintenanceDatabase: "main", sslMode: .require))
        #expect(PostgresEndpoint.redact("postgresql://u:secret@h:1/d") == "postgresql://u:***@h:1/d")
        #expect(throws: DevctlFailure.self) { try PostgresEndpoint(url: "mysql://u:p@h/d") }
        let plain = try PostgresEndpoint(url: "postgresql://u@localhost")
        #expect(plain.port == 5432 && plain.maintenanceDatabase == "postgres" && plain.password == nil && !plain.requireTLS)
        #expect(plain.url(database: "greeter_db") == "postgresql://u@localhost:5432/greeter_db")
    }
}
