import ArgumentParser
import Foundation
import Logging
import Stack

/// `devctl down`: stops the edge, the services in reverse order, then PostgreSQL.
struct DownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop the stack (edge, services in reverse order, PostgreSQL); keeps the data.",
        discussion: "Idempotent. Also cleans up after a supervisor that was killed. --purge --yes deletes the database cluster."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Also delete the embedded PostgreSQL cluster and its data (needs --yes).")
    var purge = false

    @Flag(name: .long, help: "Confirm --purge.")
    var yes = false

    @Option(name: .long, help: ArgumentHelp("Seconds each process gets between SIGTERM and SIGKILL.", valueName: "seconds"))
    var timeout: Int = 10

    func validate() throws {
        if purge && !yes { throw ValidationError("--purge deletes every database of the stack; add --yes to confirm") }
        guard timeout >= 0 else { throw ValidationError("--timeout must be 0 or more seconds") }
    }

    func run() async throws {
        let repository = try global.repository()
        let controller = StackController(config: repository.config, repositoryRoot: repository.root)
        let report = try await controller.down(
            timeout: .seconds(timeout), purge: purge,
            databaseURL: ProcessInfo.processInfo.environment["DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 },
            logger: Logger(label: "devctl.down")
        )
        if global.json {
            try Console.printJSON(report)
            return
        }
        var lines: [String] = []
        if report.supervisorStopped { lines.append("stack stopped") }
        if !report.leftoversStopped.isEmpty { lines.append("stopped left-over processes: \(report.leftoversStopped.joined(separator: ", "))") }
        if report.postgresStopped { lines.append("postgres stopped") }
        if report.purged { lines.append("database cluster deleted") }
        print(lines.isEmpty ? "nothing was running" : lines.joined(separator: "\n"))
    }
}
