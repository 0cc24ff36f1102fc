import Database
import StackModel
import DevctlCore
import Foundation
import Testing

@Suite struct DatabaseInitTests {
    @Test func initFromNothingCreatesClusterDatabasesAndSchema() async throws {
        try await TemporaryStack.with { stack in
            let report = try await stack.manager().initialize()
            #expect(report.server.mode == "embedded")
            #expect(report.server.initialized)
            #expect(report.server.started)
            #expect(report.server.state == "running")
            #expect(report.changed)
            #expect(report.upToDate)
            #expect(report.databases.map(\.database) == ["alpha_db", "beta_db"])
            #expect(report.databases.filter(\.created).count == 2)
            #expect(report.databases.map { $0.newlyApplied.map(\.name) } == [["create_things"], ["create_items"]])

            // The schema is really there, and the statement with a quoted `;` ran whole.
            #expect(try await stack.strings("SELECT name FROM things", database: "alpha_db") == ["first; with a semicolon"])
            let history = try await stack.strings(
                "SELECT version || ':' || name || ':' || length(checksum) FROM schema_migrations", database: "beta_db")
            #expect(history == ["1:create_items:64"])
        }
    }

    @Test func secondInitChangesNothing() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            let second = try await stack.manager().initialize()
            #expect(!second.changed)
            #expect(!second.server.started && !second.server.initialized)
            #expect(second.databases.allSatisfy { !$0.created && $0.newlyApplied.isEmpty && $0.applied == 1 })
            // Applied exactly once.
            #expect(try await stack.strings("SELECT count(*)::text FROM schema_migrations", database: "alpha_db") == ["1"])
            #expect(try await stack.strings("SELECT count(*)::text FROM things", database: "alpha_db") == ["1"])
        }
    }

    @Test func newMigrationIsAppliedOnce() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0002_add_colour.sql", "ALTER TABLE things ADD COLUMN colour text;")
            let status = try await stack.manager().status()
            #expect(status.databases.first?.pending == ["0002_add_colour"])
            #expect(!status.upToDate)
            let migrated = try await stack.manager().migrate()
            #expect(migrated.databases.first?.newlyApplied.map(\.version) == [2])
            let again = try await stack.manager().migrate()
            #expect(!again.changed)
            #expect(try await stack.strings("SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations", database: "alpha_db") == ["1,2"])
        }
    }

    @Test func statusBeforeAnythingExistsStartsNothing() async throws {
        try await TemporaryStack.with { stack in
            let status = try await stack.manager().status()
            #expect(status.server.state == "not-initialized")
            #expect(status.databases.allSatisfy { $0.exists == nil })
            #expect(status.databases.first?.pending == ["0001_create_things"])
            #expect(!status.upToDate)
            #expect(!FileManager.default.fileExists(atPath: stack.root + "/.devctl/postgres/data"))
        }
    }

    @Test func resetDropsDataAndRebuildsSchema() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            let report = try await stack.manager().reset(service: "alpha")
            #expect(report.databases.map(\.database) == ["alpha_db"])
            #expect(report.databases.first?.newlyApplied.count == 1)
            #expect(try await stack.strings("SELECT count(*)::text FROM things", database: "alpha_db") == ["1"])
            await #expect(throws: UnknownServiceError.self) { try await stack.manager().reset(service: "gamma") }
        }
    }

    @Test func stopThenStartKeepsData() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            let stopped = try await stack.manager().stopServer()
            #expect(stopped.stopped && stopped.state == "stopped")
            #expect(PortProbe.isFree(stack.postgresPort))
            let again = try await stack.manager().stopServer()
            #expect(!again.stopped)
            let started = try await stack.manager().startServer()
            #expect(started.started && !started.initialized)
            #expect(try await stack.strings("SELECT name FROM things", database: "alpha_db") == ["first; with a semicolon"])
        }
    }
}
