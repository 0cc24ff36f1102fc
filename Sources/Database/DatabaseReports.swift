/// The PostgreSQL server devctl worked with, as `--json` and tables show it.
public struct ServerReport: Sendable, Codable, Equatable {
    /// `embedded` (devctl's own cluster) or `external` (`DATABASE_URL`).
    public var mode: String
    /// `host:port`.
    public var address: String
    /// `running`, `stopped` or `not-initialized` (embedded); `reachable` or `unreachable` (external).
    public var state: String
    public var pid: Int32?
    public var dataDirectory: String?
    public var logFile: String?
    /// This command ran `initdb`.
    public var initialized: Bool = false
    /// This command started the server.
    public var started: Bool = false
    /// This command stopped the server.
    public var stopped: Bool = false
    /// Something the user should know (e.g. the cluster was relocated, and why).
    public var note: String?
}

/// One service's database: whether it exists and how its migrations stand.
public struct DatabaseReport: Sendable, Codable, Equatable {
    public var service: String
    public var database: String
    /// `nil` when the server could not be asked (it is stopped).
    public var exists: Bool?
    /// This command created the database.
    public var created: Bool = false
    /// Migrations this command applied.
    public var newlyApplied: [AppliedReport] = []
    /// How many migrations the database has applied in all.
    public var applied: Int = 0
    /// Migrations not applied yet, as `0002_name`.
    public var pending: [String] = []
    /// Applied migrations whose file changed since.
    public var drifted: [String] = []
    /// Applied migrations whose file is gone.
    public var missing: [String] = []

    /// Exists, nothing pending, nothing drifted or missing.
    public var isUpToDate: Bool {
        exists == true && pending.isEmpty && drifted.isEmpty && missing.isEmpty
    }
}

/// What `db init`, `db migrate`, `db status` and `db reset` report.
public struct DatabasesReport: Sendable, Codable, Equatable {
    public var server: ServerReport
    public var databases: [DatabaseReport]
    /// The command changed something (created a database, applied a migration, started a server).
    public var changed: Bool
    /// Every database exists and is fully migrated.
    public var upToDate: Bool
}
