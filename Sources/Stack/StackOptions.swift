/// What `devctl up` was asked for.
public struct StackOptions: Sendable {
    /// Services named on the command line (empty: all of them).
    public var services: [String]
    /// Start what the named services depend on too (`--no-deps` turns it off).
    public var includeDependencies: Bool
    /// The supervisor runs detached: no console stream, its own log file.
    public var detached: Bool
    /// How long everything may take to become ready.
    public var readyTimeout: Duration
    /// How often a crashed process is restarted before it is marked failed.
    public var maxRestarts: Int
    /// How long a process gets between SIGTERM and SIGKILL.
    public var stopTimeout: Duration
    /// The wait before the first restart of a crashed process; it doubles per crash in a row
    /// (at most 16 times this). 0.5 s for `up`; tests shorten it.
    public var firstRestartDelay: Duration = .milliseconds(500)
    /// An external PostgreSQL (`DATABASE_URL`); nil runs the embedded one.
    public var databaseURL: String?
    /// The `devctl` executable the services run as (`devctl serve NAME`).
    public var executable: String
    /// The dashboard's port, checked with the others before anything starts (nil: no dashboard;
    /// 0: any free port).
    public var dashboardPort: Int?

    public init(services: [String] = [], includeDependencies: Bool = true, detached: Bool = false, readyTimeout: Duration = .seconds(60),
                maxRestarts: Int = 10, stopTimeout: Duration = .seconds(10), databaseURL: String? = nil, executable: String) {
        self.services = services
        self.includeDependencies = includeDependencies
        self.detached = detached
        self.readyTimeout = readyTimeout
        self.maxRestarts = maxRestarts
        self.stopTimeout = stopTimeout
        self.databaseURL = databaseURL
        self.executable = executable
    }
}
