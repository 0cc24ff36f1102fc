import DevctlCore
import Foundation
import NIOSSL
import PostgresNIO
import StackModel

/// Where a PostgreSQL server listens and how to log in: the embedded cluster or `DATABASE_URL`.
public struct PostgresEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    /// The database to connect to for administration (creating databases).
    public var maintenanceDatabase: String
    /// `sslmode` from the URL, as libpq reads it.
    public var sslMode: SSLMode

    /// libpq's `sslmode` values. devctl and the services read them the same way (one parser).
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS when the server offers it, else plain (libpq's `allow` is treated the same).
        case allow, prefer
        /// TLS or no connection; the certificate is not checked (libpq's meaning).
        case require
        /// TLS, certificate chain checked; `verify-full` also checks the host name.
        case verifyCA = "verify-ca", verifyFull = "verify-full"
    }

    /// TLS is mandatory: a server without it is an error, never a silent plaintext link.
    public var requireTLS: Bool { [.require, .verifyCA, .verifyFull].contains(sslMode) }

    public init(host: String, port: Int, user: String, password: String?, maintenanceDatabase: String = "postgres", sslMode: SSLMode = .disable) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.maintenanceDatabase = maintenanceDatabase
        self.sslMode = sslMode
    }

    /// The endpoint of the embedded cluster that `settings` describes.
    public init(embedded settings: PostgresSettings) {
        self.init(host: settings.host, port: settings.port, user: settings.user, password: settings.password)
    }

    /// Parses `postgres://user:password@host:port/database?sslmode=…`.
    public init(url text: String) throws {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme),
              let host = components.host, !host.isEmpty
        else {
            throw DevctlFailure(
                "DATABASE_URL is not a PostgreSQL URL: \(PostgresEndpoint.redact(text))",
                hint: "use postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                exitCode: 2
            )
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslText = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard let sslMode = SSLMode(rawValue: sslText) else {
            throw DevctlFailure(
                "DATABASE_URL has an unknown sslmode \"\(sslText)\": \(PostgresEndpoint.redact(text))",
                hint: "use one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))",
                exitCode: 2
            )
        }
        self.init(
            host: host,
            port: components.port ?? 5432,
            // URLComponents.user/.password are already percent-decoded.
            user: components.user ?? "postgres",
            password: components.password,
            maintenanceDatabase: database.isEmpty ? "postgres" : database,
            sslMode: sslMode
        )
    }

    /// The URL a service uses for its own database (password included: for child processes only).
    public func url(database: String) -> String {
        var components = URLComponents()
        components.scheme = "postgresql"
        components.user = user
        components.password = password
        components.host = host
        components.port = port
        components.path = "/" + database
        if sslMode != .disable { components.queryItems = [URLQueryItem(name: "sslmode", value: sslMode.rawValue)] }
        return components.string ?? "postgresql://\(host):\(port)/\(database)"
    }

    /// `host:port` for messages; never the password.
    public var displayAddress: String { "\(host):\(port)" }

    /// A URL with its password replaced by `***`, safe to print.
    public static func redact(_ url: String) -> String {
        url.replacing(/:\/\/([^:@\/]*):[^@\/]*@/) { match in "://\(match.1):***@" }
    }
}

extension PostgresEndpoint {
    /// The TLS configuration `sslmode` asks for, or `nil` for plain TCP.
    public var tlsConfiguration: TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable:
            return nil
        case .allow, .prefer, .require:
            // libpq checks no certificate for these modes (unless a root certificate is set up).
            configuration.certificateVerification = .none
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        return configuration
    }

    /// postgres-nio's TLS setting for one connection.
    public func tls() throws -> PostgresConnection.Configuration.TLS {
        guard let configuration = tlsConfiguration else { return .disable }
        let context = try NIOSSLContext(configuration: configuration)
        return requireTLS ? .require(context) : .prefer(context)
    }

    /// Server-side limits for one session, sent as start-up parameters so that they hold from
    /// the first query: a statement or lock wait that runs past them is cancelled by the server
    /// itself (a client-side deadline cannot stop a query postgres-nio has already sent).
    public struct SessionLimits: Sendable, Equatable {
        public var statementTimeout: Duration
        public var lockTimeout: Duration
        /// Shown in `pg_stat_activity` (and in the migration lock's "held by" message).
        public var applicationName: String

        public init(statementTimeout: Duration, lockTimeout: Duration, applicationName: String) {
            self.statementTimeout = statementTimeout
            self.lockTimeout = lockTimeout
            self.applicationName = applicationName
        }

        /// A service's request path: below the platform's 3 s database budget, so the server gives
        /// up first and nothing is written after the client was answered.
        public static func service(_ name: String) -> SessionLimits {
            SessionLimits(statementTimeout: .milliseconds(2500), lockTimeout: .milliseconds(2000), applicationName: name)
        }
        /// devctl's own sessions (migrations may build indexes; a migration can raise its own
        /// limit with `SET LOCAL statement_timeout`).
        public static let tool = SessionLimits(statementTimeout: .seconds(900), lockTimeout: .seconds(30), applicationName: "devctl")

        public var startupParameters: [(String, String)] {
            [("statement_timeout", "\(Self.milliseconds(statementTimeout))"), ("lock_timeout", "\(Self.milliseconds(lockTimeout))"),
             ("application_name", applicationName)]
        }

        static func milliseconds(_ duration: Duration) -> Int64 {
            duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        }
    }

    /// The connection settings for `database` on this endpoint, with `limits` for every session.
    public func connectionConfiguration(database: String, limits: SessionLimits) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: try tls()
        )
        configuration.options.additionalStartupParameters = limits.startupParameters
        return configuration
    }
}
