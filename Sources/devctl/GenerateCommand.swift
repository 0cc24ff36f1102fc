import ArgumentParser
import DevctlCore
import ProtoGen

/// `devctl gen`: code from proto/ as buf.gen.yaml (v2) describes.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Generate code from .proto files, as `buf generate` does with buf.gen.yaml (v2).",
        discussion: """
            protoc parses; devctl runs each plugin itself (in parallel) and writes only files whose
            content changed. Unchanged inputs and plugins: nothing runs at all.
            --check writes nothing and exits 1 if any file would change (the CI drift check).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("template"), help: ArgumentHelp("The generation config, relative to the repository root.", valueName: "path"))
    var template = "buf.gen.yaml"

    @Flag(name: .long, help: "Write nothing; exit 1 and list the files that would change.")
    var check = false

    func run() async throws {
        let repository = try global.repository()
        let generator = try CodeGenerator(repositoryRoot: repository.root, configPath: template, toolVersion: DevctlVersion.current, progress: Console.progress)
        let report = try await generator.run(check: check)
        if global.json {
            try Console.printJSON(report)
        } else {
            for plugin in report.plugins {
                let verb = check ? "would write" : "wrote"
                print("\(plugin.plugin) → \(plugin.out): \(verb) \(plugin.written.count), unchanged \(plugin.unchanged)\(report.cached ? " (cached)" : ", \(plugin.durationMs) ms")")
                for path in plugin.written { print("  \(check ? "~" : "+") \(path)") }
            }
            for path in report.removed { print("  \(check ? "would remove" : "removed") \(path)") }
        }
        if check && !report.upToDate {
            throw DevctlFailure("generated code is out of date", hint: "run `devctl gen` and commit the result")
        }
    }
}
