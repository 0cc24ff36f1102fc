import ArgumentParser
import Stack

/// `devctl stack-guard ID` (hidden): the supervisor's dead-man switch; see ``StackGuard``.
struct StackGuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stack-guard",
        abstract: "Stop a stack's processes when its supervisor ends (started by `up`).",
        shouldDisplay: false
    )

    @Argument(help: "The stack's id.")
    var stackID: String

    func run() async throws {
        await StackGuard.run(stackID: stackID)
    }
}
