import DevctlCore
import Foundation
@testable import Scaffold
import StackModel
import TestSupport
import Testing

/// A throw-away repository: the real devctl.yaml, templates/ and service registry.
struct ScaffoldRepository {
    static let realRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let root: String

    static func make() throws -> ScaffoldRepository {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-new-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/Sources/Services", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: realRoot + "/devctl.yaml", toPath: root + "/devctl.yaml")
        try FileManager.default.copyItem(atPath: realRoot + "/templates", toPath: root + "/templates")
        try FileManager.default.copyItem(atPath: realRoot + "/" + RegistryRenderer.path, toPath: root + "/" + RegistryRenderer.path)
        for service in ["Greeter", "Caller", "Gateway", "Auth", "CustomLang"] {
            try FileManager.default.createDirectory(atPath: root + "/Sources/Services/\(service)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: realRoot + "/Sources/Services/\(service)/\(service)Service.swift",
                                             toPath: root + "/Sources/Services/\(service)/\(service)Service.swift")
        }
        return ScaffoldRepository(root: root)
    }

    var scaffolder: Scaffolder { Scaffolder(repositoryRoot: root) }

    /// Every file below the root with its content (to prove "nothing changed").
    func snapshot() -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory)
            files[path] = isDirectory.boolValue ? Data() : FileManager.default.contents(atPath: root + "/" + path)
        }
        return files
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Suite struct ScaffoldTests {
    static let golden = ScaffoldRepository.realRoot + "/Tests/ScaffoldTests/Golden"

    /// Each template renders `billing-api` exactly as the golden files say (UPDATE_GOLDEN=scaffold rewrites them).
    @Test(arguments: ["swift-rpc", "swift-rest", "go-connect", "node-express"])
    func templateRendersTheGoldenFiles(template: String) throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        let plan = try repository.scaffolder.plan(ScaffoldRequest(name: "billing-api", template: template, port: 8100, expose: true, dependsOn: ["caller"]))
        let folder = Self.golden + "/" + template
        // devctl.yaml's edit is checked by parsing (applyKeepsDevctlYAMLComments…), not golden:
        // it holds the whole stack.
        for file in plan.files where file.path != "devctl.yaml" {
            try Golden.check(file.content, against: folder + "/" + file.path, group: "scaffold")
        }
    }

    @Test func namesAreDerivedOnceAndCheckedStrictly() throws {
        let names = try ServiceNames("billing-api2")
        #expect([names.kebab, names.pascal, names.snake, names.camel] == ["billing-api2", "BillingApi2", "billing_api2", "billingApi2"])
        for bad in ["Billing", "../x", "a", "billing-", "bill--ing", "9lives", "billing_api", String(repeating: "a", count: 32), "edge", "postgres", "devctl", ""] {
            #expect(throws: ScaffoldError.self, "\(bad)") { _ = try ServiceNames(bad) }
        }
    }

    @Test func badInputIsRefusedAndNothingIsWritten() async throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        let before = repository.snapshot()
        func refused(_ request: ScaffoldRequest, exitCode: Int32, _ fragment: String) {
            do {
                _ = try repository.scaffolder.plan(request)
                Issue.record("\(request.name) was accepted")
            } catch let error as any UserFacingError {
                #expect(error.exitCode == exitCode, "\(error.message)")
                #expect(error.message.contains(fragment), "\(error.message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        refused(ScaffoldRequest(name: "Billing"), exitCode: 2, "invalid service name")
        refused(ScaffoldRequest(name: "greeter"), exitCode: 2, "service greeter already exists (devctl.yaml:")
        refused(ScaffoldRequest(name: "billing", port: 8080), exitCode: 2, "--port 8080 is already used by greeter")
        refused(ScaffoldRequest(name: "billing", port: 30081), exitCode: 2, "already used by edge")
        refused(ScaffoldRequest(name: "billing", template: "cobol"), exitCode: 2, "no template \"cobol\"")
        refused(ScaffoldRequest(name: "billing", dependsOn: ["nope"]), exitCode: 2, "--depends-on nope")
        refused(ScaffoldRequest(name: "billing", variables: ["greeting": "hi!"]), exitCode: 2, "does not match")
        refused(ScaffoldRequest(name: "billing", variables: ["colour": "red"]), exitCode: 2, "has no variable \"colour\"")

        // A template with a Mustache error names file:line:column.
        try "{{#database}}\nunclosed\n".write(toFile: repository.root + "/templates/swift-rpc/migration.sql.mustache", atomically: true, encoding: .utf8)
        refused(ScaffoldRequest(name: "billing"), exitCode: 1, "templates/swift-rpc/migration.sql.mustache:")
        try FileManager.default.removeItem(atPath: repository.root + "/templates/swift-rpc/migration.sql.mustache")
        try FileManager.default.copyItem(atPath: ScaffoldRepository.realRoot + "/templates/swift-rpc/migration.sql.mustache",
                                         toPath: repository.root + "/templates/swift-rpc/migration.sql.mustache")

        // An existing file is never overwritten.
        try FileManager.default.createDirectory(atPath: repository.root + "/proto/billing/v1", withIntermediateDirectories: true)
        try "mine".write(toFile: repository.root + "/proto/billing/v1/billing.proto", atomically: true, encoding: .utf8)
        refused(ScaffoldRequest(name: "billing"), exitCode: 2, "proto/billing/v1/billing.proto already exists")
        try FileManager.default.removeItem(atPath: repository.root + "/proto")
        #expect(repository.snapshot() == before)
    }

    @Test func applyKeepsDevctlYAMLCommentsAndRollsBackOnFailure() async throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        let before = repository.snapshot()
        let plan = try repository.scaffolder.plan(ScaffoldRequest(name: "billing", expose: true, dependsOn: ["caller"]))
        // The first free port from 8100: devctl.yaml uses none of 8100….
        #expect(plan.port == 8100)

        // A post-step that fails: everything written is taken back.
        struct GenFailed: Error {}
        await #expect(throws: ScaffoldError.self) {
            try await repository.scaffolder.apply(plan) { _ in throw GenFailed() }
        }
        #expect(repository.snapshot() == before)

        try await repository.scaffolder.apply(plan) { _ in }
        let yaml = try String(contentsOfFile: repository.root + "/devctl.yaml", encoding: .utf8)
        let original = try String(contentsOfFile: ScaffoldRepository.realRoot + "/devctl.yaml", encoding: .utf8)
        #expect(yaml.hasPrefix(original.trimmingCharacters(in: .newlines)), "the original text, comments included, is kept as it was")
        let config = try StackConfig.parse(yaml: yaml)
        #expect(config.service(named: "billing")?.dependsOn == ["caller"])
        #expect(config.service(named: "billing")?.expose?.pathPrefix == "/billing.v1.BillingService")
        let registry = try String(contentsOfFile: repository.root + "/" + RegistryRenderer.path, encoding: .utf8)
        #expect(registry.contains("        BillingService.self,"))
        #expect(registry.contains("        GreeterService.self,"))
        // A second run refuses: the service exists now.
        #expect(throws: ScaffoldError.self) { _ = try repository.scaffolder.plan(ScaffoldRequest(name: "billing")) }
        // … and the next service gets the next port.
        #expect(try repository.scaffolder.plan(ScaffoldRequest(name: "ledger")).port == 8101)
    }

    @Test func aFileThatAppearsBetweenPlanAndApplyStopsTheApplyWithNothingWritten() async throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        let plan = try repository.scaffolder.plan(ScaffoldRequest(name: "billing"))
        // Someone (an editor, another `devctl new`) writes one of the planned files meanwhile.
        let late = try #require(plan.files.last { $0.action == "create" }?.path)
        try FileManager.default.createDirectory(atPath: (repository.root + "/" + late as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "theirs".write(toFile: repository.root + "/" + late, atomically: true, encoding: .utf8)
        let before = repository.snapshot()
        let error = await #expect(throws: ScaffoldError.self) { try await repository.scaffolder.apply(plan) { _ in } }
        #expect(error?.message.contains("\(late) appeared meanwhile") == true, "\(error?.message ?? "")")
        #expect(repository.snapshot() == before, "apply wrote files before it stopped")
        #expect(try String(contentsOfFile: repository.root + "/" + late, encoding: .utf8) == "theirs")
    }

    @Test func unwritableRepositoryIsAFailureWithNothingLeft() async throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        let plan = try repository.scaffolder.plan(ScaffoldRequest(name: "billing"))
        // Tests run as root, which ignores permission bits: a file where a folder must go is what
        // stops every user. The writes made before it are taken back.
        try "x".write(toFile: repository.root + "/Tests", atomically: true, encoding: .utf8)
        let before = repository.snapshot()
        await #expect(throws: ScaffoldError.self) { try await repository.scaffolder.apply(plan) { _ in } }
        #expect(repository.snapshot() == before)
    }

    /// The committed registry is what the renderer makes from devctl.yaml (a drift check).
    @Test func committedRegistryIsUpToDate() throws {
        let config = try StackConfig.load(contentsOf: ScaffoldRepository.realRoot + "/devctl.yaml")
        let types = config.services.filter { $0.command == nil }.map { "\((try? ServiceNames($0.name).pascal) ?? $0.name)Service" }
        let committed = try String(contentsOfFile: ScaffoldRepository.realRoot + "/" + RegistryRenderer.path, encoding: .utf8)
        #expect(RegistryRenderer.render(typeNames: types) == committed)
    }

    /// The polyglot templates' output passes their languages' own checks.
    @Test func goOutputIsGofmtCleanAndNodeOutputParses() async throws {
        let repository = try ScaffoldRepository.make()
        defer { repository.remove() }
        for template in ["go-connect", "node-express"] {
            let plan = try repository.scaffolder.plan(ScaffoldRequest(name: "poly-\(template.prefix(2))", template: template, database: false))
            try await repository.scaffolder.apply(plan) { _ in }
        }
        let gofmt = try #require(Subprocess.findExecutable("gofmt", extraDirectories: ["/usr/lib/go/bin", "/usr/local/go/bin"]), "gofmt is missing (apt-get install golang-go)")
        let formatted = try await Subprocess(gofmt, ["-l", repository.root + "/services/poly-go"]).run()
        #expect(formatted.stdout.isEmpty, "gofmt -l lists: \(formatted.stdout)")
        let node = try #require(Subprocess.findExecutable("node"), "node is missing (apt-get install nodejs)")
        let checked = try await Subprocess(node, ["--check", repository.root + "/services/poly-no/server.js"]).output()
        #expect(checked.status == 0, "\(checked.stderr)")
    }
}
