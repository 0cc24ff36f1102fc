/// The whole stack as `devctl.yaml` describes it: the single source of truth for every verb.
public struct StackConfig: Sendable, Equatable {
    /// Schema version of the file; only `1` exists.
    public var version: Int
    public var postgres: PostgresSettings
    public var edge: EdgeSettings
    /// devctl's own trace receiver (`devctl traces`).
    public var traces: TraceSettings = .init()
    /// The dashboard `up` serves.
    public var dashboard: DashboardSettings = .init()
    /// Services in file order.
    public var services: [ServiceSpec]
    /// Where the file was read from (as shown in messages) and which line each key sits on.
    public var source: SourceMap

    public init(version: Int = 1, postgres: PostgresSettings, edge: EdgeSettings, services: [ServiceSpec], source: SourceMap) {
        self.version = version
        self.postgres = postgres
        self.edge = edge
        self.services = services
        self.source = source
    }

    /// The service called `name`, if the stack has one.
    public func service(named name: String) -> ServiceSpec? {
        services.first { $0.name == name }
    }
}

/// Stack-wide PostgreSQL settings: where the server listens and the role services use.
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String

    public init(host: String = "127.0.0.1", port: Int = 5432, user: String = "devuser", password: String = "devpass") {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
    }
}

/// The web dashboard `up` serves on 127.0.0.1 (Tilt's port by default).
public struct DashboardSettings: Sendable, Equatable {
    /// 0 takes any free port (the stack's state records which); `DEVCTL_DASHBOARD_PORT`
    /// overrides it.
    public var port: Int

    public init(port: Int = 10350) {
        self.port = port
    }
}

/// devctl's OTLP/HTTP trace receiver, which `up` runs on 127.0.0.1 and points the services at
/// (unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set: then the services send there instead).
public struct TraceSettings: Sendable, Equatable {
    /// The receiver's port (OTLP/HTTP's usual one is 4318); 0, the default, takes any free port
    /// (the stack's state records which, for `devctl traces`).
    public var port: Int
    /// How many recent traces it keeps in memory (the oldest leave first).
    public var keep: Int
    /// How many new traces per second the edge starts sampled (`nil`: every one). Beyond it a
    /// request still gets a trace id (logs, `X-Request-Id`) but its `traceparent` says "not
    /// sampled", so the services record no spans for it: a load test costs the stack what tracing
    /// a hundred requests a second costs, while every request a person makes is traced. A
    /// client's own valid `traceparent` keeps its decision.
    public var samplePerSecond: Int?

    public init(port: Int = 0, keep: Int = 1000, samplePerSecond: Int? = 100) {
        self.port = port
        self.keep = keep
        self.samplePerSecond = samplePerSecond
    }
}

/// Stack-wide settings of the edge router.
public struct EdgeSettings: Sendable, Equatable {
    public var port: Int
    /// Origins the edge's CORS policy allows.
    public var corsOrigins: [String]
    /// The rate-limit middleware: sustained requests per second per client, and the burst.
    public var rateLimitAverage: Int
    public var rateLimitBurst: Int

    public init(port: Int = 30081, corsOrigins: [String] = [], rateLimitAverage: Int = 100, rateLimitBurst: Int = 50) {
        self.port = port
        self.corsOrigins = corsOrigins
        self.rateLimitAverage = rateLimitAverage
        self.rateLimitBurst = rateLimitBurst
    }
}

/// One service of the stack.
public struct ServiceSpec: Sendable, Equatable {
    /// Kebab-case name, unique in the stack (`greeter`, `custom-lang`).
    public var name: String
    public var kind: Kind
    public var port: Int
    /// The service's own database, or `nil` for a service without one.
    public var database: String?
    /// Folder of the service's SQL migrations, relative to the repository root.
    public var migrations: String?
    /// Services that must be ready before this one starts.
    public var dependsOn: [String]
    /// Environment variables and their defaults, in file order; the process environment wins.
    public var environment: [EnvironmentVariable]
    public var health: HealthPaths
    /// How the edge exposes the service, or `nil` when it is internal.
    public var expose: Exposure?
    /// The program and arguments `up` runs (from the repository root), for services not written
    /// in Swift; `nil` runs `devctl serve NAME`.
    public var command: [String]?
    /// What `up` runs (from the repository root) before the service starts, and `up --watch`
    /// again when a file under one of its `watch` folders changes (the frontend's bundle).
    public var build: BuildStep?

    /// A build a service needs before it runs.
    public struct BuildStep: Sendable, Equatable {
        /// The program and its arguments.
        public var command: [String]
        /// Folders (relative to the repository root) whose changes need the build again.
        public var watch: [String]

        public init(command: [String], watch: [String] = []) {
            self.command = command
            self.watch = watch
        }
    }

    public init(
        name: String, kind: Kind, port: Int, database: String? = nil, migrations: String? = nil,
        dependsOn: [String] = [], environment: [EnvironmentVariable] = [], health: HealthPaths = HealthPaths(),
        expose: Exposure? = nil
    ) {
        self.name = name
        self.kind = kind
        self.port = port
        self.database = database
        self.migrations = migrations
        self.dependsOn = dependsOn
        self.environment = environment
        self.health = health
        self.expose = expose
    }

    /// What protocol the service speaks.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Connect RPC (HTTP/1.1 and h2c).
        case rpc
        /// Plain REST over HTTP.
        case rest
    }
}

/// An environment variable and its default value.
public struct EnvironmentVariable: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Liveness and readiness paths of a service.
public struct HealthPaths: Sendable, Equatable {
    /// Answers while the process runs.
    public var live: String
    /// Answers 200 only while the service can serve (its database answers).
    public var ready: String

    public init(live: String = "/healthz", ready: String = "/readyz") {
        self.live = live
        self.ready = ready
    }
}

/// How the edge router exposes a service.
public struct Exposure: Sendable, Equatable {
    /// Path prefix routed to the service, e.g. `/greeter.v1.GreeterService`.
    public var pathPrefix: String
    /// Middlewares applied in order.
    public var middlewares: [Middleware]

    public init(pathPrefix: String, middlewares: [Middleware]) {
        self.pathPrefix = pathPrefix
        self.middlewares = middlewares
    }

    /// Edge middlewares (the seed's Traefik set).
    public enum Middleware: String, Sendable, Equatable, CaseIterable {
        case cors
        case auth
        case rateLimit = "rate-limit"
    }
}

/// Where the configuration came from and on which line each key path sits.
public struct SourceMap: Sendable, Equatable {
    /// The file as shown in messages (`devctl.yaml`, or a path).
    public var file: String
    public var lines: [String: Int]

    public init(file: String, lines: [String: Int] = [:]) {
        self.file = file
        self.lines = lines
    }

    /// The line of `keyPath`, when known.
    public func line(of keyPath: String) -> Int? { lines[keyPath] }
}
