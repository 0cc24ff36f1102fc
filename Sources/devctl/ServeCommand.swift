import ArgumentParser
import Database
import DevctlCore
import Foundation
import Hummingbird
import Services
import StackModel

/// `devctl serve NAME`: one service in the foreground (what `up` and container images run).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run one service in the foreground.",
        discussion: """
            Configuration: environment variables over the defaults devctl.yaml lists for the
            service (PORT, DATABASE_URL from the stack's PostgreSQL settings, …); without a
            devctl.yaml (a container image), the environment and built-in defaults alone.
            SIGTERM/SIGINT: stop accepting, finish in-flight requests, close the pool.
            """
    )

    @Argument(help: "The service to run.")
    var name: String

    @Option(name: .long, help: ArgumentHelp("Path to devctl.yaml.", valueName: "path"))
    var config: String?

    @Flag(name: .customLong("no-config"), help: "Ignore devctl.yaml: the environment and built-in defaults only (containers; `up` passes everything).")
    var noConfig = false

    func run() async throws {
        guard let service = ServiceRegistry.service(named: name) else {
            throw DevctlFailure("unknown service \"\(name)\"", hint: "services: \(ServiceRegistry.services.map { $0.name }.joined(separator: ", "))", exitCode: 2)
        }
        try await serve(service, environment: try environmentWithStackDefaults())
    }

    /// Makes the service on its platform (start-up checks first) and serves it until SIGTERM/SIGINT.
    private func serve<Service: BundledService>(_ type: Service.Type, environment: [String: String]) async throws {
        let platform = try await startup { try ServicePlatform(settings: type.settings(environment: environment)) }
        let service = try await startup { try await type.make(platform: platform) }
        let router = platform.makeRouter()
        service.addRoutes(to: router)
        try await platform.run(router: router)
    }

    /// A service's start-up check; a configuration it refuses is a usage error (exit 2).
    private func startup<T>(_ make: () async throws -> T) async throws -> T {
        do {
            return try await make()
        } catch let error as ServiceStartupError {
            throw DevctlFailure(error.description, hint: "fix the variable in the environment or in devctl.yaml (services.\(name).environment)", exitCode: 2)
        }
    }

    /// The process environment over devctl.yaml's defaults for this service, when there is one.
    private func environmentWithStackDefaults() throws -> [String: String] {
        var defaults: [String: String] = [:]
        if !noConfig, let repository = try? StackRepository.discover(explicitPath: config), let service = repository.config.service(named: name) {
            defaults["PORT"] = String(service.port)
            if let database = service.database {
                defaults["DATABASE_URL"] = PostgresEndpoint(embedded: repository.config.postgres).url(database: database)
            }
            for variable in service.environment { defaults[variable.name] = variable.value }
        }
        return defaults.merging(ProcessInfo.processInfo.environment) { $1 }
    }
}
