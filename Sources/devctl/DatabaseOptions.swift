import ArgumentParser
import Database
import Foundation
import Logging

/// Options shared by the `db` subcommands.
struct DatabaseOptions: ParsableArguments {
    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "Use this server instead of the embedded cluster (default: $DATABASE_URL).", valueName: "url"))
    var databaseURL: String?

    /// The database manager for this repository and server choice.
    func manager() throws -> DatabaseManager {
        let repository = try global.repository()
        let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"]
        return try DatabaseManager(config: repository.config, repositoryRoot: repository.root,
                                   databaseURL: url, logger: Logger(label: "devctl.db"))
    }
}
