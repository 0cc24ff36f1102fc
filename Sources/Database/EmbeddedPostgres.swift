#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import DevctlCore
import Foundation
import StackModel

/// The PostgreSQL cluster devctl runs itself when no `DATABASE_URL` is given.
///
/// It lives under `.devctl/postgres/` (data in `data/`, server log in `postgres.log`), listens on
/// loopback TCP only with scram-sha-256, and has the stack's user as its superuser. PostgreSQL
/// refuses to run as root, so when devctl is root the cluster belongs to the `postgres` system
/// user; when that user cannot reach `.devctl/` (a clone under a 0700 folder, as CI makes), the
/// cluster moves to `/var/lib/devctl/clusters/` and ``relocationNote`` says why.
public struct EmbeddedPostgres: Sendable {
    /// The repository's `.devctl` folder.
    public let stateDirectory: String
    public let settings: PostgresSettings
    /// The folder holding `data/` and `postgres.log`.
    public let clusterDirectory: String
    /// Set when the cluster could not live under `.devctl/` and why.
    public let relocationNote: String?
    /// The account the server runs as, when devctl runs as root.
    public let serverUser: SystemUser?

    /// The folder the default, non-root layout uses when the state directory is unreachable.
    public static let relocationRoot = "/var/lib/devctl/clusters"

    public var dataDirectory: String { clusterDirectory + "/data" }
    public var logFile: String { clusterDirectory + "/postgres.log" }
    private var lockFile: String { stateDirectory + "/postgres.lock" }

    /// Decides where the cluster lives; nothing is created yet.
    public init(stateDirectory: String, settings: PostgresSettings) throws {
        self.stateDirectory = stateDirectory
        self.settings = settings
        let preferred = stateDirectory + "/postgres"
        guard SystemUser.isRoot else {
            serverUser = nil
            clusterDirectory = preferred
            relocationNote = nil
            return
        }
        guard let postgresUser = SystemUser.named("postgres") else {
            throw DevctlFailure(
                "devctl runs as root and PostgreSQL refuses to run as root, but there is no 'postgres' system user to run it as",
                hint: "install the server (apt-get install -y postgresql creates the user), run devctl as a normal user, or set DATABASE_URL to a running server"
            )
        }
        serverUser = postgresUser
        if FileManager.default.fileExists(atPath: preferred + "/data/PG_VERSION") {
            clusterDirectory = preferred
            relocationNote = nil
        } else if let blocked = postgresUser.firstUntraversableDirectory(on: stateDirectory) {
            let absolute = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
            let digest = SHA256.hash(data: Data(absolute.utf8)).prefix(6).map { String(format: "%02x", $0) }.joined()
            let repositoryName = URL(fileURLWithPath: absolute).deletingLastPathComponent().lastPathComponent
                .filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
            clusterDirectory = "\(Self.relocationRoot)/\(repositoryName.isEmpty ? "repo" : repositoryName)-\(digest)"
            relocationNote = "\(blocked.path) (mode \(blocked.mode)) is not traversable by the postgres user, "
                + "so the cluster lives in \(clusterDirectory); to keep it under .devctl/, run `chmod o+x \(blocked.path)`"
        } else {
            clusterDirectory = preferred
            relocationNote = nil
        }
    }

    /// Where the cluster stands right now.
    public enum State: Sendable, Equatable {
        case notInitialized
        case stopped
        case running(pid: Int32, port: Int)
    }

    /// True when initdb finished and devctl's settings were appended: a data directory without
    /// them is an interrupted first run, made again from scratch.
    private var isCompletelyInitialized: Bool {
        guard let configuration = try? String(contentsOfFile: dataDirectory + "/postgresql.conf", encoding: .utf8) else { return false }
        return configuration.contains(Self.settingsMarker)
    }

    private static let settingsMarker = "# Added by devctl: the embedded development cluster."

    /// Reads `postmaster.pid` and checks the process; no subprocess, so it is cheap.
    public func state() -> State {
        let fileManager = FileManager.default
        guard fileManager.fileExists(atPath: dataDirectory + "/PG_VERSION"), isCompletelyInitialized else { return .notInitialized }
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8) else { return .stopped }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]) else { return .stopped }
        // kill(pid, 0) probes without signalling; EPERM still means "alive" (someone else's process).
        guard kill(pid, 0) == 0 || errno == EPERM else { return .stopped }
        // After a reboot or container restart the pid may belong to an unrelated process.
        if let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
           !name.hasPrefix("postgres") {
            return .stopped
        }
        return .running(pid: pid, port: port)
    }

    /// What ``start(timeout:)`` did.
    public struct StartOutcome: Sendable, Equatable {
        /// `initdb` ran (first use).
        public var initialized: Bool
        /// The server was started (it was not running).
        public var started: Bool
    }

    /// Creates the cluster on first use and starts it; returns once it accepts connections.
    /// Safe to call from several processes at once: a file lock serialises them.
    public func start(timeout: Duration = .seconds(30)) async throws -> StartOutcome {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let lock = try await FileLock.acquire(at: lockFile, timeout: timeout + .seconds(30))
        defer { lock.release() }

        var outcome = StartOutcome(initialized: false, started: false)
        switch state() {
        case .running(_, let port) where port == settings.port:
            return outcome
        case .running(let pid, let port):
            throw DevctlFailure(
                "the embedded PostgreSQL (pid \(pid)) is running on port \(port), but devctl.yaml says postgres.port \(settings.port)",
                hint: "run `devctl db stop`, then run the command again"
            )
        case .notInitialized:
            try await initialize()
            outcome.initialized = true
        case .stopped:
            break
        }

        guard PortProbe.isFree(settings.port, host: settings.host) else {
            throw DevctlFailure(
                "cannot start the embedded PostgreSQL: \(PortProbe.describeHolder(of: settings.port))",
                hint: "stop that process, set postgres.port in devctl.yaml to a free port, or use that server with DATABASE_URL=postgresql://USER:PASSWORD@\(settings.host):\(settings.port)/postgres"
            )
        }
        let seconds = Int(timeout.components.seconds)
        let result = try await pgCtl([
            "start", "-D", dataDirectory, "-l", logFile, "-w", "-t", String(max(seconds, 1)),
            "-o", "-p \(settings.port) -c listen_addresses=\(settings.host)",
        ]).output()
        guard result.succeeded else {
            throw DevctlFailure(
                "the embedded PostgreSQL did not start on port \(settings.port):\n\(lastLines(of: logFile, count: 8) ?? result.stderr)",
                hint: "its full log is \(logFile)"
            )
        }
        outcome.started = true
        return outcome
    }

    /// Stops the server (fast shutdown: clients are disconnected, data is flushed).
    /// Returns whether it was running.
    @discardableResult
    public func stop(timeout: Duration = .seconds(30)) async throws -> Bool {
        guard case .running = state() else { return false }
        let lock = try await FileLock.acquire(at: lockFile, timeout: timeout + .seconds(30))
        defer { lock.release() }
        guard case .running = state() else { return false }
        try await pgCtl(["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", String(Int(timeout.components.seconds))]).run()
        return true
    }

    /// Deletes the cluster and its data (the server must be stopped first).
    public func purge() async throws {
        try await stop()
        if FileManager.default.fileExists(atPath: clusterDirectory) {
            try FileManager.default.removeItem(atPath: clusterDirectory)
        }
    }

    private func initialize() async throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: clusterDirectory, withIntermediateDirectories: true)
        chmod(clusterDirectory, 0o700)
        try serverUser?.takeOwnership(of: clusterDirectory)
        if fileManager.fileExists(atPath: dataDirectory) {
            // A half-made data directory from an interrupted initdb: start again from nothing.
            try fileManager.removeItem(atPath: dataDirectory)
        }

        // The superuser's password reaches initdb through a file only its owner can read.
        let passwordFile = clusterDirectory + "/.initdb-password"
        guard fileManager.createFile(atPath: passwordFile, contents: Data((settings.password + "\n").utf8),
                                     attributes: [.posixPermissions: 0o600]) else {
            throw DevctlFailure("cannot write \(passwordFile)")
        }
        defer { try? fileManager.removeItem(atPath: passwordFile) }
        try serverUser?.takeOwnership(of: passwordFile)

        let binaries = try PostgresBinaries.locate()
        let result = try await subprocess(binaries.initdb, [
            "-D", dataDirectory, "-U", settings.user, "--pwfile=\(passwordFile)",
            "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256",
            "--no-instructions",
        ]).output()
        guard result.succeeded else {
            throw DevctlFailure("initdb failed for \(dataDirectory):\n\(result.stderr.trimmingWhitespace())")
        }
        // Loopback TCP only; no Unix socket, whose path length limit deep checkouts exceed and
        // which nothing here uses.
        let settingsBlock = """

            \(Self.settingsMarker)
            listen_addresses = '\(settings.host)'
            unix_socket_directories = ''
            password_encryption = 'scram-sha-256'
            # Each service keeps up to DB_POOL_MAX (default 10) connections open.
            max_connections = 300

            """
        let configFile = dataDirectory + "/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: configFile) else {
            throw DevctlFailure("cannot append devctl's settings to \(configFile)")
        }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(settingsBlock.utf8))
        try handle.close()

    }

    private func pgCtl(_ arguments: [String]) throws -> Subprocess {
        try subprocess(PostgresBinaries.locate().pgCtl, arguments)
    }

    private func subprocess(_ executable: String, _ arguments: [String]) -> Subprocess {
        // The cluster folder as working directory: the postgres user may not be able to enter ours.
        Subprocess(executable, arguments, environment: ["LC_ALL": "C.UTF-8"],
                   workingDirectory: clusterDirectory, user: serverUser?.name)
    }
}

/// The last `count` lines of a text file, or `nil` if it cannot be read.
func lastLines(of path: String, count: Int) -> String? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return text.split(separator: "\n").suffix(count).joined(separator: "\n")
}
