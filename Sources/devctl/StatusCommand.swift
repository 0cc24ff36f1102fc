import ArgumentParser
import Stack

/// `devctl status`: each process's state, pid, port, uptime, restarts and readiness.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the stack's processes and whether they are ready.",
        discussion: "Exit status 1 unless a stack runs and every process in it is ready (for CI scripts)."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let repository = try global.repository()
        let controller = StackController(config: repository.config, repositoryRoot: repository.root)
        let running = controller.isSupervisorRunning
        guard let state = controller.currentState() else {
            if global.json {
                try Console.printJSON(["running": false, "ready": false])
            } else {
                print("no stack has run in this repository yet — devctl up starts one")
            }
            throw ExitCode.failure
        }
        let view = StackStatusView(state: state, running: running)
        if global.json {
            try Console.printJSON(view)
        } else {
            if !running { print("the stack is not running (last run shown) — devctl up starts it") }
            print(StackOutput.table(state))
        }
        if !view.ready { throw ExitCode.failure }
    }
}
