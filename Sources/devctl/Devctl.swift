import ArgumentParser

/// The `devctl` command: the whole developer workflow of the platform.
struct Devctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devctl",
        abstract: "Run, build and ship the devctl microservices platform.",
        discussion: """
            Every command reads the stack from devctl.yaml (found in this folder or above).
            Exit status: 0 success, 1 failure, 2 bad usage or bad configuration.
            """,
        version: DevctlVersion.current,
        subcommands: [UpCommand.self, WatchCommand.self, DownCommand.self, StatusCommand.self, LogsCommand.self, TracesCommand.self, NewCommand.self, ManifestsCommand.self, DatabaseCommand.self, GenerateCommand.self, ServeCommand.self, ProtocPluginCommand.self, StackGuardCommand.self]
    )
}
