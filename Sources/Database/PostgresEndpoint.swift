import DevctlCore
import Foundation
import StackModel

/// Where a PostgreSQL server listens and how to log in: the embedded cluster or `DATABASE_URL`.
public struct PostgresEndpoint: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    /// The database to connect to for administration (creating databases).
    public var maintenanceDatabase: String
    /// `sslmode` from the URL; `require`/`verify-*` turn TLS on.
    public var requireTLS: Bool

    public init(host: String, port: Int, user: String, password: String?, maintenanceDatabase: String = "postgres", requireTLS: Bool = false) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.maintenanceDatabase = maintenanceDatabase
        self.requireTLS = requireTLS
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
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        self.init(
            host: host,
            port: components.port ?? 5432,
            // URLComponents.user/.password are already percent-decoded.
            user: components.user ?? "postgres",
            password: components.password,
            maintenanceDatabase: database.isEmpty ? "postgres" : database,
            requireTLS: ["require", "verify-ca", "verify-full"].contains(sslmode)
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
        if requireTLS { components.queryItems = [URLQueryItem(name: "sslmode", value: "require")] }
        return components.string ?? "postgresql://\(host):\(port)/\(database)"
    }

    /// `host:port` for messages; never the password.
    public var displayAddress: String { "\(host):\(port)" }

    /// A URL with its password replaced by `***`, safe to print.
    public static func redact(_ url: String) -> String {
        url.replacing(/:\/\/([^:@\/]*):[^@\/]*@/) { match in "://\(match.1):***@" }
    }
}
