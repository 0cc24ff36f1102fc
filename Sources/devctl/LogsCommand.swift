import ArgumentParser
import Foundation
import Stack

/// `devctl logs`: what the stack's processes printed, from `.devctl/logs/`.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show the stack's logs (all processes, or the named ones).",
        discussion: "Lines are prefixed with the process name. -f keeps following (also across restarts and log rotation)."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Processes to show: service names, edge, supervisor (default: all).")
    var names: [String] = []

    @Flag(name: [.short, .long], help: "Keep printing new lines as they are written.")
    var follow = false

    @Option(name: .long, help: ArgumentHelp("Only the last N lines of each log.", valueName: "n"))
    var tail: Int?

    func validate() throws {
        if let tail, tail < 0 { throw ValidationError("--tail must be 0 or more") }
    }

    func run() async throws {
        let repository = try global.repository()
        let paths = StackPaths(repositoryRoot: repository.root)
        let known = repository.config.services.map(\.name) + ["edge", "supervisor"]
        for name in names where !known.contains(name) {
            throw ValidationError("no process named \"\(name)\"; known: \(known.joined(separator: ", "))")
        }
        let selected = (names.isEmpty ? known : names).filter { !names.isEmpty || FileManager.default.fileExists(atPath: paths.logFile(for: $0)) }
        let console = ConsoleStream(names: selected, colour: Console.isInteractive, human: Console.isTerminal && !global.json)
        var offsets: [String: UInt64] = [:]
        for name in selected {
            let path = paths.logFile(for: name)
            let lines = tail.map { LogReader.tail(path: path, lines: $0) } ?? LogReader.readNew(path: path, from: 0).lines
            for line in lines { console.write(name: name, line: line) }
            offsets[name] = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        }
        guard follow else { return }
        while true {
            for name in selected {
                let (lines, offset) = LogReader.readNew(path: paths.logFile(for: name), from: offsets[name] ?? 0)
                offsets[name] = offset
                for line in lines { console.write(name: name, line: line) }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}
