import ArgumentParser
import DevctlCore

/// `devctl db reset SERVICE --yes`: drop one service's database and build it again.
struct DatabaseResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Drop one service's database, create it again and apply every migration."
    )

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The service whose database to reset.")
    var service: String

    @Flag(name: .long, help: "Confirm: the database's data is deleted.")
    var yes = false

    func run() async throws {
        guard yes else {
            throw DevctlFailure(
                "db reset deletes every row of \(service)'s database; refusing without --yes",
                hint: "run `devctl db reset \(service) --yes`",
                exitCode: 2
            )
        }
        let report = try await options.manager().reset(service: service)
        try DatabaseOutput.show(report, json: options.global.json, verb: .reset)
    }
}
