import DevctlCore
import Foundation
@testable import Manifests
import StackModel
import Testing

/// A git repository made for one test: the real devctl.yaml, deploy modules and environments.
struct GitFixture {
    static let realRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    let root: String

    static func make(initGit: Bool = true) async throws -> GitFixture {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-manifests-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/deploy", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: realRoot + "/devctl.yaml", toPath: root + "/devctl.yaml")
        try FileManager.default.copyItem(atPath: realRoot + "/deploy/k8s", toPath: root + "/deploy/k8s")
        try FileManager.default.copyItem(atPath: realRoot + "/deploy/envs", toPath: root + "/deploy/envs")
        let fixture = GitFixture(root: root)
        if initGit {
            try await fixture.git("init", "-q")
            try await fixture.git("add", "devctl.yaml", "deploy")
        }
        return fixture
    }

    func git(_ arguments: String...) async throws {
        let git = try #require(Subprocess.findExecutable("git"))
        try await Subprocess(git, ["-c", "user.email=t@example.com", "-c", "user.name=t"] + arguments, workingDirectory: root).run()
    }

    func write(_ path: String, _ text: String) throws {
        try text.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: root + "/" + path, encoding: .utf8) }

    var generator: ManifestsGenerator {
        get throws { ManifestsGenerator(repositoryRoot: root, stack: try StackConfig.load(contentsOf: root + "/devctl.yaml")) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Suite struct ManifestsTests {
    @Test func rendersWhatIsStagedNotTheWorkingTree() async throws {
        let fixture = try await GitFixture.make()
        defer { fixture.remove() }
        // Staged, then edited without staging: the staged version is rendered.
        let greeter = try #require(fixture.read("deploy/k8s/greeter.yaml"))
        try fixture.write("deploy/k8s/greeter.yaml", greeter.replacingOccurrences(of: "limits: {memory: 128Mi}", with: "limits: {memory: 777Mi}"))
        // Untracked: not rendered, listed with the command that stages it.
        try fixture.write("deploy/k8s/extra.yaml", "app: caller\ndeployment: {port: 8081}\n")
        let report = try fixture.generator.run(environment: "local", check: false, strict: false)
        #expect(report.modules == ["auth", "caller", "custom-lang", "gateway", "greeter", "web"])
        #expect(fixture.read("deploy/manifests/local/greeter/Deployment-greeter.yaml")?.contains("memory: 128Mi") == true)
        #expect(report.notStaged == [
            .init(path: "deploy/k8s/extra.yaml", change: "untracked", fix: "git add deploy/k8s/extra.yaml"),
            .init(path: "deploy/k8s/greeter.yaml", change: "modified", fix: "git add deploy/k8s/greeter.yaml"),
        ])
        // --strict: that is an error.
        #expect(throws: ManifestsError.self) { try fixture.generator.run(environment: "local", check: false, strict: true) }

        // Staging the edit changes the output; a second run writes nothing.
        try await fixture.git("add", "deploy/k8s/greeter.yaml")
        let restaged = try fixture.generator.run(environment: "local", check: false, strict: false)
        #expect(restaged.written == ["deploy/manifests/local/greeter/Deployment-greeter.yaml"])
        #expect(fixture.read("deploy/manifests/local/greeter/Deployment-greeter.yaml")?.contains("memory: 777Mi") == true)

        // A staged deletion: the module is gone from the output, its files removed as stale.
        try await fixture.git("rm", "-q", "--cached", "deploy/k8s/gateway.yaml")
        let deleted = try fixture.generator.run(environment: "local", check: false, strict: false)
        #expect(!deleted.modules.contains("gateway"))
        #expect(deleted.removed.contains("deploy/manifests/local/gateway/Deployment-gateway.yaml"))
        #expect(fixture.read("deploy/manifests/local/gateway/Deployment-gateway.yaml") == nil)
        let again = try fixture.generator.run(environment: "local", check: true, strict: false)
        #expect(again.upToDate && again.unchanged > 0)
    }

    @Test func checkReportsDriftAndWritesNothing() async throws {
        let fixture = try await GitFixture.make()
        defer { fixture.remove() }
        let report = try fixture.generator.run(environment: "prod", check: true, strict: false)
        #expect(!report.upToDate && report.written.count > 30)
        #expect(!FileManager.default.fileExists(atPath: fixture.root + "/deploy/manifests"))
        _ = try fixture.generator.run(environment: "prod", check: false, strict: false)
        #expect(try fixture.generator.run(environment: "prod", check: true, strict: false).upToDate)
        // Output is deterministic: the same bytes twice.
        let first = fixture.read("deploy/manifests/prod/edge/IngressRoute-edge.yaml")
        try FileManager.default.removeItem(atPath: fixture.root + "/deploy/manifests")
        _ = try fixture.generator.run(environment: "prod", check: false, strict: false)
        #expect(fixture.read("deploy/manifests/prod/edge/IngressRoute-edge.yaml") == first)
        // Secrets are templates: placeholders only, never the dev secret.
        let secret = try #require(fixture.read("deploy/manifests/prod/auth/Secret-auth-secrets.yaml"))
        #expect(secret.contains("REPLACE_ME") && !secret.contains("dev-secret") && !secret.contains("devpass"))
    }

    @Test func badInputIsNamed() async throws {
        func failure(_ fixture: GitFixture, environment: String = "local") throws -> String {
            do {
                _ = try fixture.generator.run(environment: environment, check: true, strict: false)
                return ""
            } catch let error as any UserFacingError {
                return error.message
            }
        }
        let fixture = try await GitFixture.make()
        defer { fixture.remove() }
        #expect(try failure(fixture, environment: "staging").contains("no environment \"staging\" staged in git"))
        try fixture.write("deploy/k8s/greeter.yaml", "app: greeter\ndeployment:\n  replicas: [1\n")
        try await fixture.git("add", "deploy/k8s/greeter.yaml")
        #expect(try failure(fixture).contains("deploy/k8s/greeter.yaml:"))
        try fixture.write("deploy/k8s/greeter.yaml", "app: greeter\ndeployment:\n  replicaz: 1\n")
        try await fixture.git("add", "deploy/k8s/greeter.yaml")
        #expect(try failure(fixture).contains("deploy/k8s/greeter.yaml:3: deployment.replicaz: unknown key"))
        try fixture.write("deploy/k8s/greeter.yaml", "app: billing\ndeployment: {port: 8100}\n")
        try await fixture.git("add", "deploy/k8s/greeter.yaml")
        #expect(try failure(fixture).contains("app \"billing\" is not a service in devctl.yaml"))

        let outside = try await GitFixture.make(initGit: false)
        defer { outside.remove() }
        #expect(try failure(outside).contains("is not in a git repository"))
    }

    /// Every core object passes kubernetes-validate --strict for 1.30 and 1.37; every Traefik
    /// object its CRD's schema (and a broken one does not).
    @Test func renderedObjectsValidate() async throws {
        let fixture = try await GitFixture.make()
        defer { fixture.remove() }
        _ = try fixture.generator.run(environment: "local", check: false, strict: false)
        let files = FileManager.default.enumerator(atPath: fixture.root + "/deploy/manifests")?.allObjects.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".yaml") }.map { fixture.root + "/deploy/manifests/" + $0 } ?? []
        let traefik = files.filter { (try? String(contentsOfFile: $0, encoding: .utf8))?.contains("apiVersion: traefik.io/") == true }
        let core = files.filter { !traefik.contains($0) }
        #expect(core.count > 25 && traefik.count == 5)
        let validator = try #require(Subprocess.findExecutable("kubernetes-validate"), "kubernetes-validate is missing (pip install kubernetes-validate)")
        for version in ["1.30.0", "1.37.0"] {
            let result = try await Subprocess(validator, ["--strict", "-k", version, "--quiet"] + core).output()
            #expect(result.status == 0, "Kubernetes \(version): \(result.stdout)\(result.stderr)")
        }
        let python = try #require(Subprocess.findExecutable("python3"))
        let schemas = GitFixture.realRoot + "/Tests/ManifestsTests/Schemas"
        let good = try await Subprocess(python, [schemas + "/validate_traefik.py", schemas + "/traefik-crds-v3.yaml"] + traefik).output()
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        let broken = fixture.root + "/broken.yaml"
        let route = try #require(traefik.first { $0.hasSuffix("IngressRoute-edge.yaml") })
        // RPC services are reached over h2c (gRPC needs HTTP/2), REST ones over HTTP/1.1.
        let routeText = try String(contentsOfFile: route, encoding: .utf8)
        for service in routeText.components(separatedBy: "- name: ").dropFirst() {
            let name = service.prefix { !$0.isWhitespace }
            if ["greeter", "gateway", "caller"].contains(String(name)) { #expect(service.contains("scheme: h2c"), "\(service)") }
            if ["auth", "custom-lang"].contains(String(name)) { #expect(!service.contains("scheme:"), "\(service)") }
        }
        #expect(routeText.contains("scheme: h2c"), "\(routeText)")
        try (try String(contentsOfFile: route, encoding: .utf8)).replacingOccurrences(of: "kind: Rule", with: "kind: Nope")
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let bad = try await Subprocess(python, [schemas + "/validate_traefik.py", schemas + "/traefik-crds-v3.yaml", broken]).output()
        #expect(bad.status == 1, "a broken Middleware must fail: \(bad.stdout)")
    }
}
