import DevctlCore
import Foundation
import Logging
import PostgresNIO

/// Applies one service's migrations to its database, safely.
///
/// - A PostgreSQL advisory lock serialises concurrent migrators (two `devctl db migrate` at once).
/// - Each migration runs in its own transaction together with its `schema_migrations` row, so
///   a failure leaves neither a partial schema nor a record.
/// - Before anything is applied the plan is checked: an applied migration whose file changed
///   (checksum drift), whose file is gone, or a new migration older than the newest applied
///   one stops the run with nothing applied.
struct Migrator {
    let connection: PostgresConnection
    let database: String
    let logger: Logger
    /// How long to wait for another migrator's advisory lock before saying who holds it.
    var lockTimeout: Duration = .seconds(60)

    /// Arbitrary, fixed key for `pg_advisory_lock`: "devctl migrate" in ASCII, truncated.
    static let advisoryLockKey: Int64 = 0x6465_7663_746c_6d69

    /// A row of `schema_migrations`.
    struct AppliedMigration: Sendable {
        var version: Int64
        var name: String
        var checksum: String
    }

    /// How the files compare with what the database has applied.
    struct Plan: Sendable {
        var applied: [AppliedMigration]
        var pending: [Migration]
        /// Applied migrations whose file content changed.
        var drifted: [Migration]
        /// Applied migrations with no file any more.
        var missing: [AppliedMigration]
        /// Pending migrations older than the newest applied one.
        var outOfOrder: [Migration]
    }

    /// Creates `schema_migrations` if needed.
    func ensureHistoryTable() async throws {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS public.schema_migrations (
                version     bigint      PRIMARY KEY,
                name        text        NOT NULL,
                checksum    text        NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer     NOT NULL
            )
            """, logger: logger)
    }

    /// The history, or empty when `schema_migrations` does not exist yet (read-only).
    func appliedMigrations() async throws -> [AppliedMigration] {
        let exists = try await connection.query(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL", logger: logger
        ).collect().first?.decode(Bool.self) ?? false
        guard exists else { return [] }
        var applied: [AppliedMigration] = []
        let rows = try await connection.query(
            "SELECT version, name, checksum FROM public.schema_migrations ORDER BY version", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int64, String, String).self) {
            applied.append(AppliedMigration(version: version, name: name, checksum: checksum))
        }
        return applied
    }

    func plan(for migrations: [Migration]) async throws -> Plan {
        Self.plan(files: migrations, applied: try await appliedMigrations())
    }

    static func plan(files: [Migration], applied: [AppliedMigration]) -> Plan {
        let appliedByVersion = Dictionary(applied.map { ($0.version, $0) }, uniquingKeysWith: { first, _ in first })
        let fileVersions = Set(files.map(\.version))
        let newestApplied = applied.map(\.version).max() ?? Int64.min
        var plan = Plan(applied: applied, pending: [], drifted: [], missing: [], outOfOrder: [])
        for file in files {
            if let record = appliedByVersion[file.version] {
                if record.checksum != file.checksum { plan.drifted.append(file) }
            } else {
                plan.pending.append(file)
                if file.version < newestApplied { plan.outOfOrder.append(file) }
            }
        }
        plan.missing = applied.filter { !fileVersions.contains($0.version) }
        return plan
    }

    /// Applies every pending migration, in order, under the advisory lock.
    /// Returns the migrations applied with their durations.
    func migrate(_ migrations: [Migration]) async throws -> [AppliedReport] {
        try await Self.acquireAdvisoryLock(on: connection, database: database, timeout: lockTimeout, logger: logger)
        do {
            let result = try await migrateLocked(migrations)
            try await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
            return result
        } catch {
            // Closing the connection also releases the lock; unlock explicitly to be tidy.
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))", logger: logger)
            throw error
        }
    }

    private func migrateLocked(_ migrations: [Migration]) async throws -> [AppliedReport] {
        try await ensureHistoryTable()
        let plan = try await plan(for: migrations)
        if let drifted = plan.drifted.first {
            throw MigrationError.checksumMismatch(database: database, migration: drifted)
        }
        if let missing = plan.missing.first {
            throw MigrationError.missingFile(database: database, version: missing.version, name: missing.name)
        }
        if let early = plan.outOfOrder.first {
            let newest = plan.applied.map(\.version).max() ?? 0
            throw MigrationError.outOfOrder(database: database, migration: early, newestApplied: newest)
        }
        var applied: [AppliedReport] = []
        for migration in plan.pending {
            applied.append(try await apply(migration))
        }
        return applied
    }

    private func apply(_ migration: Migration) async throws -> AppliedReport {
        let clock = ContinuousClock()
        let start = clock.now
        let script = SQLScript(migration.sql)
        // devctl owns the transaction: a COMMIT inside the file would make half the migration
        // permanent without its schema_migrations row.
        if let control = script.statements.first(where: { Self.isTransactionControl($0.sql) }) {
            throw MigrationError.failed(database: database, migration: migration, line: control.line,
                                        reason: "transaction control (\(control.sql.prefix(20))) is not allowed: each migration already runs in its own transaction")
        }
        try await connection.query("BEGIN", logger: logger)
        do {
            for statement in script.statements {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: statement.sql), logger: logger)
                } catch {
                    throw MigrationError.failed(
                        database: database, migration: migration,
                        line: Self.line(of: error, in: statement), reason: describePostgresError(error)
                    )
                }
            }
            let elapsed = clock.now - start
            let milliseconds = Int32(clamping: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            try await connection.query("""
                INSERT INTO public.schema_migrations (version, name, checksum, duration_ms)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(milliseconds))
                """, logger: logger)
            try await connection.query("COMMIT", logger: logger)
            logger.info("migration applied", metadata: [
                "database": "\(database)", "migration": "\(migration.identifier)", "duration_ms": "\(milliseconds)",
            ])
            return AppliedReport(version: migration.version, name: migration.name, durationMs: Int(milliseconds))
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// Takes the migration lock, polling (`pg_advisory_lock` would wait forever, or fail at the
    /// session's `lock_timeout` without saying why); after `timeout`, names the session holding it.
    static func acquireAdvisoryLock(on connection: PostgresConnection, database: String, timeout: Duration, logger: Logger) async throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            let acquired = try await connection.query("SELECT pg_try_advisory_lock(\(advisoryLockKey))", logger: logger)
                .collect().first?.decode(Bool.self) ?? false
            if acquired { return }
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let high = Int64(advisoryLockKey >> 32)
        let low = Int64(advisoryLockKey & 0xFFFF_FFFF)
        let holder = try? await connection.query("""
            SELECT a.pid, coalesce(nullif(a.application_name, ''), '?'), coalesce(a.client_addr::text, 'local socket'),
                   coalesce(a.usename::text, '?'), coalesce(extract(epoch FROM now() - a.backend_start)::bigint, 0)
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid::bigint = \(high) AND l.objid::bigint = \(low) AND l.objsubid = 1
            LIMIT 1
            """, logger: logger).collect().first?.decode((Int32, String, String, String, Int64).self)
        let who = holder.map { "PostgreSQL session pid \($0.0) (application \($0.1), user \($0.3), from \($0.2), connected \($0.4) s ago)" }
            ?? "another session (it let go just now, or is not visible to this user)"
        throw DevctlFailure(
            "\(database): another migration holds the migration lock; waited \(timeout): \(who)",
            hint: "wait for it to finish, or end that session (SELECT pg_terminate_backend(PID)) if it is stuck"
        )
    }

    static func isTransactionControl(_ sql: String) -> Bool {
        let firstWord = sql.prefix { $0.isLetter }.uppercased()
        return ["BEGIN", "COMMIT", "ROLLBACK", "END", "SAVEPOINT", "RELEASE", "ABORT"].contains(firstWord)
            || sql.uppercased().hasPrefix("START TRANSACTION")
    }

    /// The file line PostgreSQL's error points at: the statement's first line plus the offset of
    /// the error's character position inside the statement.
    private static func line(of error: any Error, in statement: SQLScript.Statement) -> Int {
        guard let position = ServerErrorDetails(error)?.position else { return statement.line }
        return statement.line + statement.sql.line(ofCharacterPosition: position) - 1
    }
}

/// Why a migration run stopped.
public enum MigrationError: UserFacingError {
    case checksumMismatch(database: String, migration: Migration)
    case missingFile(database: String, version: Int64, name: String)
    case outOfOrder(database: String, migration: Migration, newestApplied: Int64)
    case failed(database: String, migration: Migration, line: Int, reason: String)

    public var message: String {
        switch self {
        case .checksumMismatch(let database, let migration):
            return "\(migration.path): changed after it was applied to \(database) (checksum mismatch); nothing was applied"
        case .missingFile(let database, let version, let name):
            return "\(database): migration \(String(format: "%04lld", version))_\(name) was applied but its file is gone; nothing was applied"
        case .outOfOrder(let database, let migration, let newest):
            return "\(migration.path): version \(migration.version) is older than the newest migration applied to \(database) (\(newest)); nothing was applied"
        case .failed(let database, let migration, let line, let reason):
            return "\(migration.path):\(line): \(reason)\nmigration \(migration.identifier) was rolled back; \(database) is as it was before it"
        }
    }

    public var hint: String? {
        switch self {
        case .checksumMismatch:
            return "applied migrations must not be edited: restore the file (git checkout) and put the change in a new migration"
        case .missingFile:
            return "restore the file (git checkout), or reset the database with `devctl db reset SERVICE --yes`"
        case .outOfOrder:
            return "renumber the new migration above the newest applied one"
        case .failed:
            return "fix the SQL and run `devctl db migrate` again"
        }
    }
}

/// A migration that was just applied.
public struct AppliedReport: Sendable, Codable, Equatable {
    public var version: Int64
    public var name: String
    public var durationMs: Int
}
