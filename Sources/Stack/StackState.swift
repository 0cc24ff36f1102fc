import Foundation

/// What the supervisor publishes about the stack (`.devctl/run/stack.json`): read by `status`,
/// `down`, `logs` and a detached `up` waiting for readiness.
public struct StackState: Codable, Sendable, Equatable {
    /// Where the stack is in its life.
    public enum Phase: String, Codable, Sendable {
        case starting, running, stopping, stopped, failed
    }

    public var supervisorPID: Int32
    public var startedAt: Date
    public var detached: Bool
    public var phase: Phase
    /// Why the stack failed to come up (what did not become ready, and its last log lines).
    public var failure: String?
    public var postgres: PostgresRecord?
    public var processes: [ProcessRecord]
    /// Where the services send their spans (`devctl traces` reads devctl's own receiver).
    public var traces: TracesRecord?
    /// `up --watch`: the last build (running, failed with its errors, or succeeded).
    public var build: BuildRecord?
    /// `up --watch`: whether changes are acted on (the dashboard can pause it).
    public var watch: WatchRecord?
    /// The dashboard's address (`http://127.0.0.1:10350`), while it serves.
    public var dashboard: String?

    /// Who watches the stack's files (`up --watch`, or `devctl watch` beside it) and what the
    /// dashboard asked of it: the watcher follows this record.
    public struct WatchRecord: Codable, Sendable, Equatable {
        /// Changes are collected but not acted on until resumed.
        public var paused: Bool
        /// Builds asked for so far (the watcher builds when this grows).
        public var buildRequests: Int
        /// The watching process (the supervisor itself under `up --watch`).
        public var watcherPID: Int32

        public init(paused: Bool = false, buildRequests: Int = 0, watcherPID: Int32) {
            self.paused = paused
            self.buildRequests = buildRequests
            self.watcherPID = watcherPID
        }

        // A state file an older devctl wrote (only `paused`) still reads.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            paused = try container.decodeIfPresent(Bool.self, forKey: .paused) ?? false
            buildRequests = try container.decodeIfPresent(Int.self, forKey: .buildRequests) ?? 0
            watcherPID = try container.decodeIfPresent(Int32.self, forKey: .watcherPID) ?? 0
        }
    }

    /// A build `up --watch` ran; its errors stay until a build succeeds.
    public struct BuildRecord: Codable, Sendable, Equatable {
        public enum Phase: String, Codable, Sendable { case building, failed, succeeded }
        public var phase: Phase
        public var startedAt: Date
        public var durationMs: Int?
        /// `file:line:col: error: message`, each once.
        public var errors: [String]
        /// Services restarted on the last success.
        public var restarted: [String]

        public init(phase: Phase, startedAt: Date, durationMs: Int? = nil, errors: [String] = [], restarted: [String] = []) {
            self.phase = phase
            self.startedAt = startedAt
            self.durationMs = durationMs
            self.errors = errors
            self.restarted = restarted
        }
    }

    /// devctl's trace receiver, or the user's endpoint that replaced it.
    public struct TracesRecord: Codable, Sendable, Equatable {
        /// devctl's receiver (`http://127.0.0.1:PORT`), when it runs.
        public var receiver: String?
        /// `OTEL_EXPORTER_OTLP_ENDPOINT` from the environment `up` ran in, which the services use
        /// instead (empty: tracing turned off).
        public var externalEndpoint: String?
    }

    /// The embedded (or external) PostgreSQL the stack uses.
    public struct PostgresRecord: Codable, Sendable, Equatable {
        public var address: String
        public var embedded: Bool
        /// Started by this stack (so stopping the stack stops it).
        public var startedByStack: Bool
    }

    public init(supervisorPID: Int32, startedAt: Date, detached: Bool, phase: Phase, failure: String? = nil,
                postgres: PostgresRecord? = nil, processes: [ProcessRecord]) {
        self.supervisorPID = supervisorPID
        self.startedAt = startedAt
        self.detached = detached
        self.phase = phase
        self.failure = failure
        self.postgres = postgres
        self.processes = processes
    }

    public func process(named name: String) -> ProcessRecord? { processes.first { $0.name == name } }

    static func read(from path: String) -> StackState? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(StackState.self, from: data)
    }

    func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Write-then-rename: a reader never sees half a file.
        let temporary = path + ".tmp-\(getpid())"
        try encoder.encode(self).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
    }
}

/// One supervised process: a service (`devctl serve NAME`) or the edge (HAProxy).
public struct ProcessRecord: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case service, edge
    }

    /// `pending` (waiting for dependencies), `starting`, `ready`, `unhealthy` (was ready, its
    /// readiness check now fails), `restarting` (crashed; waiting out the backoff), `stopped`,
    /// `failed` (gave up: too many restarts, or never ready).
    public enum State: String, Codable, Sendable {
        case pending, starting, ready, unhealthy, restarting, stopped, failed
    }

    public var name: String
    public var kind: Kind
    public var port: Int
    public var url: String
    public var pid: Int32?
    public var state: State
    public var restarts: Int
    public var startedAt: Date?
    /// Milliseconds from (re)start to the first ready answer.
    public var readyAfterMs: Int?
    /// When it last became ready.
    public var readyAt: Date?
    /// Exit status of the last run (128 + signal when killed).
    public var lastExit: Int32?

    public init(name: String, kind: Kind, port: Int, url: String, pid: Int32? = nil, state: State = .pending,
                restarts: Int = 0, startedAt: Date? = nil, readyAfterMs: Int? = nil, lastExit: Int32? = nil) {
        self.name = name
        self.kind = kind
        self.port = port
        self.url = url
        self.pid = pid
        self.state = state
        self.restarts = restarts
        self.startedAt = startedAt
        self.readyAfterMs = readyAfterMs
        self.lastExit = lastExit
    }
}
