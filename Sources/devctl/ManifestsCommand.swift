import ArgumentParser
import DevctlCore
import Manifests

/// `devctl manifests`: Kubernetes YAML from the deploy modules as staged in git.
struct ManifestsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifests",
        abstract: "Render Kubernetes manifests from deploy/ as staged in git.",
        discussion: """
            Reads deploy/k8s/*.yaml and deploy/envs/ENV.yaml from the git index (what will be
            committed), not the working tree; writes deploy/manifests/ENV/APP/Kind-name.yaml.
            --check writes nothing and exits 1 if anything would change (CI drift check).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Environment (deploy/envs/ENV.yaml).")
    var env = "local"

    @Flag(name: .long, help: "Write nothing; exit 1 listing what would change.")
    var check = false

    @Flag(name: .long, help: "Deploy files that are untracked or not staged are an error.")
    var strict = false

    func run() async throws {
        let repository = try global.repository()
        let report = try ManifestsGenerator(repositoryRoot: repository.root, stack: repository.config).run(environment: env, check: check, strict: strict)
        if global.json {
            try Console.printJSON(report)
        } else {
            for file in report.notStaged {
                Console.note("\(file.path) is \(file.change) but not staged: the staged version was rendered (\(file.fix))")
            }
            let verb = check ? "would write" : "wrote"
            print("\(report.environment): \(report.modules.count) modules; \(verb) \(report.written.count), unchanged \(report.unchanged), \(check ? "would remove" : "removed") \(report.removed.count)")
            for path in report.written { print("  \(check ? "~" : "+") \(path)") }
            for path in report.removed { print("  - \(path)") }
        }
        if check && !report.upToDate {
            throw DevctlFailure("the manifests in deploy/manifests/\(env) are out of date", hint: "run devctl manifests --env \(env) and commit the result")
        }
    }
}
