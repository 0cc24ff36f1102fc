import ArgumentParser

/// `devctl db status`: every database and its migrations, read-only.
struct DatabaseStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each database: exists, applied, pending, drifted.",
        discussion: "Exit status 1 unless every database exists and is fully migrated (for CI scripts)."
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let report = try await options.manager().status()
        try DatabaseOutput.show(report, json: options.global.json, verb: .status)
        if !report.upToDate { throw ExitCode.failure }
    }
}
