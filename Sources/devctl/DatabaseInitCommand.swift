import ArgumentParser

/// `devctl db init`: create every service's database and apply pending migrations.
struct DatabaseInitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start the server if needed, create missing databases, apply pending migrations.",
        discussion: "Idempotent: a second run changes nothing and says so."
    )

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "Services to initialise (default: every service with a database).")
    var services: [String] = []

    func run() async throws {
        let manager = try options.manager()
        let report = try await manager.initialize(services: services.isEmpty ? nil : services)
        try DatabaseOutput.show(report, json: options.global.json, verb: .initialize)
    }
}
