import Foundation
import Logging

/// One service's configuration: environment variables with development defaults (the values
/// devctl.yaml lists), read once at start-up.
public struct ServiceSettings: Sendable {
    public var name: String
    public var host: String
    public var port: Int
    /// `postgresql://user:password@host:port/database[?sslmode=…]`; never logged. Required: it
    /// carries a password, so there is no built-in value (devctl.yaml's stack supplies one).
    public var databaseURL: String
    public var logLevel: Logger.Level
    /// Largest request body accepted; larger → 413 (REST) or resource_exhausted (Connect).
    public var maxBodyBytes: Int
    /// Every variable the service reads, for its own keys (`JWT_SECRET`, `CALLER_BASE_URL` …).
    public var environment: [String: String]
    /// Whether the service has a database (a `defaultDatabase`, or a `DATABASE_URL` given).
    public var usesDatabase: Bool
    /// Secret settings the service needs (`JWT_SECRET`): they have no default in code, so an
    /// unset or empty one stops the start instead of falling back to a value anyone can read.
    public var secrets: [String]

    /// Reads `environment` (the process's by default) over the defaults. `defaults` must never
    /// hold a secret: list those in `secrets`. `defaultDatabase` is the database devctl.yaml
    /// gives the service (`nil`: it has none, and needs no `DATABASE_URL`).
    public init(name: String, defaultPort: Int, defaultDatabase: String?,
                defaults: [String: String] = [:], secrets: [String] = [],
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        // An empty variable counts as unset (as `PORT= devctl serve …` would mean).
        let merged = defaults.merging(environment.filter { !$0.value.isEmpty }) { $1 }
        self.name = name
        self.environment = merged
        usesDatabase = defaultDatabase != nil || !(merged["DATABASE_URL"] ?? "").isEmpty
        self.secrets = (usesDatabase ? ["DATABASE_URL"] : []) + secrets
        host = merged["HOST"] ?? "127.0.0.1"
        port = merged["PORT"].flatMap(Int.init) ?? defaultPort
        databaseURL = merged["DATABASE_URL"] ?? ""
        logLevel = merged["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        maxBodyBytes = merged["MAX_BODY_BYTES"].flatMap(Int.init) ?? 1024 * 1024
    }

    /// Variables that were set but could not be read: a start-up error names them, instead of a
    /// silent fall-back to the default.
    public var invalidValues: [String] {
        var problems: [String] = []
        for secret in secrets where (environment[secret] ?? "").isEmpty {
            problems.append("\(secret) is not set (or empty); it has no built-in value. Set \(secret) in the environment, or run from the repository so devctl.yaml's development value applies")
        }
        if let text = environment["PORT"], Int(text).map({ (1...65535).contains($0) }) != true {
            problems.append("PORT \"\(text)\" is not a port number (1-65535)")
        }
        if let text = environment["LOG_LEVEL"], Logger.Level(rawValue: text.lowercased()) == nil {
            problems.append("LOG_LEVEL \"\(text)\" is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let text = environment["MAX_BODY_BYTES"], Int(text).map({ $0 > 0 }) != true {
            problems.append("MAX_BODY_BYTES \"\(text)\" is not a positive number of bytes")
        }
        if let text = environment["DB_POOL_MAX"], Int(text).map({ (1...1000).contains($0) }) != true {
            problems.append("DB_POOL_MAX \"\(text)\" is not a number of connections from 1 to 1000")
        }
        if let text = environment["DB_POOL_MIN"], Int(text).map({ (0...databasePoolMaximum).contains($0) }) != true {
            problems.append("DB_POOL_MIN \"\(text)\" is not a number of connections from 0 to DB_POOL_MAX (\(databasePoolMaximum))")
        }
        return problems
    }

    /// The most connections the service's pool opens (`DB_POOL_MAX`, default
    /// ``defaultDatabasePoolMaximum``).
    public var databasePoolMaximum: Int {
        environment["DB_POOL_MAX"].flatMap(Int.init).flatMap { (1...1000).contains($0) ? $0 : nil } ?? Self.defaultDatabasePoolMaximum
    }

    /// Ten connections (the Go peer's pool size too). Measured on 2 cores under the Greet load
    /// (32 concurrent requests), a pool of 4 costs ~20 % more CPU per request than 10: requests
    /// queue for a connection, and each wait is a continuation, a cancellation handler and a
    /// place in the pool's queue.
    public static let defaultDatabasePoolMaximum = 10

    /// Connections the pool opens at start-up (`DB_POOL_MIN`, default: all of `DB_POOL_MAX`), so
    /// the first requests do not pay for connecting; the pool never closes an idle connection.
    public var databasePoolMinimum: Int {
        min(environment["DB_POOL_MIN"].flatMap(Int.init).flatMap { $0 >= 0 ? $0 : nil } ?? databasePoolMaximum, databasePoolMaximum)
    }

    /// A value the service needs, or its default.
    public subscript(key: String) -> String? { environment[key] }
}
