import Database
import DevctlCore
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite struct MigrationSafetyTests {
    @Test func changedAppliedMigrationStopsEverything() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0001_create_things.sql", "CREATE TABLE things (id int);")
            try stack.write("migrations/alpha/0002_more.sql", "CREATE TABLE more (id int);")
            let error = await #expect(throws: MigrationError.self) { try await stack.manager().migrate() }
            #expect(error?.message == "migrations/alpha/0001_create_things.sql: changed after it was applied to alpha_db (checksum mismatch); nothing was applied")
            #expect(try await stack.strings("SELECT count(*)::text FROM schema_migrations", database: "alpha_db") == ["1"])
            #expect(try await stack.strings("SELECT coalesce(to_regclass('more')::text, 'absent')", database: "alpha_db") == ["absent"])
            let status = try await stack.manager().status()
            #expect(status.databases.first?.drifted == ["0001_create_things"])
        }
    }

    @Test func brokenMigrationLeavesNoTrace() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0002_broken.sql", """
                -- a good statement first: it must be rolled back too
                CREATE TABLE half_done (id int);

                INSERT INTO half_done (id)
                VALUES (1),
                       (no_such_column);
                """)
            let error = await #expect(throws: MigrationError.self) { try await stack.manager().migrate() }
            let message = error?.message ?? ""
            #expect(message.hasPrefix("migrations/alpha/0002_broken.sql:6: column \"no_such_column\" does not exist (SQLSTATE 42703)"))
            #expect(try await stack.strings("SELECT coalesce(to_regclass('half_done')::text, 'absent')", database: "alpha_db") == ["absent"])
            #expect(try await stack.strings("SELECT string_agg(version::text, ',') FROM schema_migrations", database: "alpha_db") == ["1"])
        }
    }

    @Test func transactionControlInsideAMigrationIsRefused() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0002_own_tx.sql", "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n")
            let error = await #expect(throws: MigrationError.self) { try await stack.manager().migrate() }
            #expect(error?.message.hasPrefix("migrations/alpha/0002_own_tx.sql:2: transaction control") == true, "\(error?.message ?? "")")
            #expect(try await stack.strings("SELECT coalesce(to_regclass('a')::text, 'absent')", database: "alpha_db") == ["absent"])
        }
    }

    @Test func errorLinesAreRightInCRLFFiles() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0002_crlf.sql", "CREATE TABLE c (\r\n  id int,\r\n  bad nosuchtype\r\n);\r\n")
            let error = await #expect(throws: MigrationError.self) { try await stack.manager().migrate() }
            #expect(error?.message.hasPrefix("migrations/alpha/0002_crlf.sql:3: type \"nosuchtype\" does not exist") == true, "\(error?.message ?? "")")
        }
    }

    @Test func migrationOlderThanTheNewestAppliedIsRefused() async throws {
        try await TemporaryStack.with { stack in
            try stack.write("migrations/alpha/0005_late.sql", "CREATE TABLE late (id int);")
            _ = try await stack.manager().initialize()
            try stack.write("migrations/alpha/0003_early.sql", "CREATE TABLE early (id int);")
            let error = await #expect(throws: MigrationError.self) { try await stack.manager().migrate() }
            #expect(error?.message == "migrations/alpha/0003_early.sql: version 3 is older than the newest migration applied to alpha_db (5); nothing was applied")
        }
    }

    @Test func misnamedMigrationFileIsBadInput() async throws {
        try await TemporaryStack.with { stack in
            try stack.write("migrations/alpha/add_things.sql", "SELECT 1;")
            let error = await #expect(throws: DevctlFailure.self) { try await stack.manager().initialize() }
            #expect(error?.message == "migrations/alpha/add_things.sql: not a migration file name")
            #expect(error?.exitCode == 2)
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await TemporaryStack.with { stack in
            _ = try await stack.manager().initialize()
            // A slow migration widens the window in which two migrators could both see it pending.
            try stack.write("migrations/alpha/0002_slow.sql", """
                SELECT pg_sleep(0.5);
                CREATE TABLE slow (id int);
                """)
            let manager = try stack.manager()
            async let first = manager.migrate()
            async let second = manager.migrate()
            let reports = try await [first, second]
            let appliedCounts = reports.map { $0.databases.first?.newlyApplied.count ?? -1 }
            #expect(appliedCounts.sorted() == [0, 1])
            #expect(try await stack.strings("SELECT count(*)::text FROM schema_migrations", database: "alpha_db") == ["2"])
        }
    }
}

extension MigrationSafetyTests {
    @Test func beginAtomicFunctionsAndRulesApply() async throws {
        try await TemporaryStack.with { stack in
            try stack.write("migrations/alpha/0002_routines.sql", """
                CREATE TABLE audit (what text);
                CREATE FUNCTION grade(score int) RETURNS text LANGUAGE sql
                BEGIN ATOMIC
                    SELECT CASE WHEN score > 50 THEN 'pass' ELSE 'fail' END;
                END;
                CREATE RULE audit_things AS ON INSERT TO things
                    DO ALSO (INSERT INTO audit VALUES ('one'); INSERT INTO audit VALUES ('two'));
                INSERT INTO things (name) VALUES ('x');
                """)
            _ = try await stack.manager().initialize()
            #expect(try await stack.strings("SELECT grade(60)", database: "alpha_db") == ["pass"])
            #expect(try await stack.strings("SELECT string_agg(what, ',' ORDER BY what) FROM audit", database: "alpha_db") == ["one,two"])
        }
    }

    @Test func aMigrationThatChangesSearchPathKeepsTheHistory() async throws {
        try await TemporaryStack.with { stack in
            try stack.write("migrations/alpha/0002_schema.sql", "CREATE SCHEMA app;\nSET search_path TO app;\nCREATE TABLE settings (k text);")
            try stack.write("migrations/alpha/0003_after.sql", "CREATE TABLE more_settings (k text);")
            let report = try await stack.manager().initialize()
            #expect(report.databases.first { $0.service == "alpha" }?.newlyApplied.count == 3)
            let again = try await stack.manager().migrate()
            #expect(again.databases.first { $0.service == "alpha" }?.newlyApplied.isEmpty == true)
            #expect(try await stack.strings("SELECT count(*)::text FROM public.schema_migrations", database: "alpha_db") == ["3"])
        }
    }

    @Test func aHeldMigrationLockTimesOutNamingItsHolder() async throws {
        try await TemporaryStack.with { stack in
            var manager = try stack.manager()
            _ = try await manager.initialize()
            try stack.write("migrations/alpha/0002_more.sql", "CREATE TABLE more (id int);")
            var configuration = PostgresConnection.Configuration(
                host: "127.0.0.1", port: stack.postgresPort, username: "devuser", password: "devpass", database: "alpha_db", tls: .disable)
            configuration.options.additionalStartupParameters = [("application_name", "stuck-migrator")]
            let holder = try await PostgresConnection.connect(configuration: configuration, id: 9, logger: Logger(label: "test"))
            try await holder.query("SELECT pg_advisory_lock(\(0x6465_7663_746c_6d69 as Int64))", logger: Logger(label: "test"))
            manager.migrationLockTimeout = .milliseconds(600)
            let error = await #expect(throws: DevctlFailure.self) { try await manager.migrate() }
            #expect(error?.message.contains("another migration holds the migration lock") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("application stuck-migrator") == true, "\(error?.message ?? "")")
            try await holder.close()
            // Once the holder is gone the migration goes through.
            #expect(try await manager.migrate().databases.first { $0.service == "alpha" }?.newlyApplied.count == 1)
        }
    }

    @Test func devctlSessionsCarryLockAndStatementTimeouts() async throws {
        try await TemporaryStack.with { stack in
            let manager = try stack.manager()
            _ = try await manager.initialize()
            #expect(try await manager.scalar("SELECT current_setting('lock_timeout')", in: "alpha_db") == "30s")
            #expect(try await manager.scalar("SELECT current_setting('statement_timeout')", in: "alpha_db") == "15min")
        }
    }
}
