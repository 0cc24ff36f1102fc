import ArgumentParser

/// `devctl db migrate`: apply pending migrations.
struct DatabaseMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations (each in its own transaction, under an advisory lock).",
        discussion: """
            Stops with nothing applied if an applied migration's file changed, is gone, or a new
            migration is older than the newest applied one.
            """
    )

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "Services to migrate (default: every service with a database).")
    var services: [String] = []

    func run() async throws {
        let report = try await options.manager().migrate(services: services.isEmpty ? nil : services)
        try DatabaseOutput.show(report, json: options.global.json, verb: .migrate)
    }
}
