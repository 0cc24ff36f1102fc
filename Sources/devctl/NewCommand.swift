import ArgumentParser
import Foundation
import ProtoGen
import Scaffold

/// `devctl new`: scaffolding from templates/.
struct NewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create a service from a template (devctl new --list shows them).",
        subcommands: [NewServiceCommand.self]
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "List the templates with their descriptions.")
    var list = false

    func run() async throws {
        guard list else { throw CleanExit.helpRequest(self) }
        let repository = try global.repository()
        let templates = try ServiceTemplate.all(in: repository.root + "/templates")
        if global.json {
            try Console.printJSON(templates.map { ["name": $0.name, "description": $0.description, "language": $0.language, "kind": $0.kind] })
        } else {
            print(Console.table(["TEMPLATE", "LANGUAGE", "KIND", "DESCRIPTION"], templates.map { [$0.name, $0.language, $0.kind, $0.description] }))
        }
    }
}

/// `devctl new service NAME`: renders, validates, writes (all or nothing), runs the post-steps.
struct NewServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract: "Scaffold a service and register it everywhere (devctl.yaml, devctl serve, protos).",
        discussion: "Nothing is written unless everything renders and validates; existing files are never overwritten."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Kebab-case name, e.g. billing or billing-api.")
    var name: String

    @Option(name: .long, help: "Template (devctl new --list).")
    var template = "swift-rpc"

    @Option(name: .long, help: ArgumentHelp("Port (default: the next free one from 8100).", valueName: "port"))
    var port: Int?

    @Flag(name: .customLong("no-db"), help: "No database or migrations.")
    var noDB = false

    @Flag(name: .long, help: "Route it through the edge (cors, auth, rate-limit).")
    var expose = false

    @Flag(name: .long, help: "Keep it off the edge (the default).")
    var `internal` = false

    @Option(name: .customLong("depends-on"), parsing: .upToNextOption, help: "Services it needs ready first.")
    var dependsOn: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("A template variable, key=value (repeatable).", valueName: "key=value"))
    var variables: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Print the plan; write nothing.")
    var dryRun = false

    func validate() throws {
        if expose && `internal` { throw ValidationError("--expose and --internal contradict each other") }
        for variable in variables where !variable.contains("=") { throw ValidationError("--set expects key=value, got \"\(variable)\"") }
    }

    func run() async throws {
        let repository = try global.repository()
        var values: [String: String] = [:]
        for variable in variables {
            let parts = variable.split(separator: "=", maxSplits: 1).map(String.init)
            values[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let request = ScaffoldRequest(name: name, template: template, port: port, database: !noDB, expose: expose ? true : (`internal` ? false : nil),
                                      dependsOn: dependsOn, variables: values)
        let scaffolder = Scaffolder(repositoryRoot: repository.root)
        let plan = try scaffolder.plan(request)
        if !dryRun {
            try await scaffolder.apply(plan) { step in
                guard step == "gen" else { return }
                _ = try await CodeGenerator(repositoryRoot: repository.root, configPath: "buf.gen.yaml", toolVersion: DevctlVersion.current, progress: Console.progress).run(check: false)
            }
        }
        if global.json {
            struct Output: Encodable { var dryRun: Bool; var plan: ScaffoldPlan }
            try Console.printJSON(Output(dryRun: dryRun, plan: plan))
            return
        }
        print(dryRun ? "would create service \(plan.service) (template \(plan.template), port \(plan.port)):" : "created service \(plan.service) (template \(plan.template), port \(plan.port)):")
        for file in plan.files { print("  \(file.action == "create" ? "+" : "~") \(file.path)") }
        for step in plan.postSteps { print("  \(dryRun ? "would run" : "ran") devctl \(step)") }
        if !dryRun {
            print("next: swift build, then devctl up \(plan.service)\(plan.exposedAt.map { " (edge: \($0))" } ?? "")")
        }
    }
}
