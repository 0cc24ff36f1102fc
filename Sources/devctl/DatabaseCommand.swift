import ArgumentParser

/// `devctl db`: the stack's databases and migrations.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Create, migrate and inspect the services' databases.",
        discussion: """
            Without DATABASE_URL (or --database-url) devctl runs its own PostgreSQL cluster
            under .devctl/postgres; with it, the same commands work on that server.
            """,
        subcommands: [
            DatabaseInitCommand.self, DatabaseMigrateCommand.self, DatabaseStatusCommand.self,
            DatabaseResetCommand.self, DatabaseStartCommand.self, DatabaseStopCommand.self,
        ]
    )
}
