import ArgumentParser
import StackModel

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path to devctl.yaml (default: the nearest one in this folder or above; or $DEVCTL_CONFIG).", valueName: "path"))
    var config: String?

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false

    @Flag(name: [.short, .long], help: "Log what happens, to stderr.")
    var verbose = false

    /// The repository's configuration, loaded and validated.
    func repository() throws -> StackRepository {
        try StackRepository.discover(explicitPath: config)
    }
}
