import ArgumentParser

/// `devctl db start`: start the embedded cluster (initialising it on first use).
struct DatabaseStartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start the embedded PostgreSQL (creating it on first use)."
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let report = try await options.manager().startServer()
        try DatabaseOutput.show(server: report, json: options.global.json)
    }
}

/// `devctl db stop`: stop the embedded cluster; data is kept.
struct DatabaseStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the embedded PostgreSQL (fast shutdown; data is kept)."
    )

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let report = try await options.manager().stopServer()
        try DatabaseOutput.show(server: report, json: options.global.json)
    }
}
