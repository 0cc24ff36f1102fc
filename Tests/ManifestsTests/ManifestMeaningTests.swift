import Foundation
@testable import Manifests
import StackModel
import Testing
import Yams
import YAMLSupport

/// What the rendered objects mean, not only that they validate: who may reach whom, how pods
/// run, where services find each other, what PostgreSQL creates.
@Suite struct ManifestMeaningTests {
    /// Every rendered object of `environment`, keyed by `Kind/name`.
    static func objects(_ environment: String) async throws -> [String: [String: Any]] {
        let fixture = try await GitFixture.make()
        defer { fixture.remove() }
        _ = try fixture.generator.run(environment: environment, check: false, strict: false)
        var objects: [String: [String: Any]] = [:]
        for path in FileManager.default.enumerator(atPath: fixture.root + "/deploy/manifests/\(environment)")?.allObjects.compactMap({ $0 as? String }) ?? []
        where path.hasSuffix(".yaml") {
            let text = try String(contentsOfFile: fixture.root + "/deploy/manifests/\(environment)/" + path, encoding: .utf8)
            guard let object = try YAMLLockedLoad.load(text), let kind = object["kind"] as? String,
                  let name = (object["metadata"] as? [String: Any])?["name"] as? String else { continue }
            objects["\(kind)/\(name)"] = object
        }
        return objects
    }

    static func stack() throws -> StackConfig { try StackConfig.load(contentsOf: GitFixture.realRoot + "/devctl.yaml") }

    /// The app names allowed in by a NetworkPolicy's ingress rules (`traefik` for the edge).
    static func allowedSources(_ policy: [String: Any]) -> Set<String> {
        let rules = ((policy["spec"] as? [String: Any])?["ingress"] as? [[String: Any]]) ?? []
        var names = Set<String>()
        for rule in rules {
            for peer in (rule["from"] as? [[String: Any]]) ?? [] {
                let labels = ((peer["podSelector"] as? [String: Any])?["matchLabels"] as? [String: Any]) ?? [:]
                if let name = labels["app.kubernetes.io/name"] as? String { names.insert(name) }
            }
        }
        return names
    }

    @Test func ingressIsDeniedByDefaultAndOpenOnlyToTheEdgeAndDependents() async throws {
        let objects = try await Self.objects("local")
        let stack = try Self.stack()
        let denyAll = try #require(objects["NetworkPolicy/default-deny-ingress"])
        let spec = try #require(denyAll["spec"] as? [String: Any])
        #expect((spec["podSelector"] as? [String: Any])?.isEmpty == true, "applies to every pod")
        #expect(spec["policyTypes"] as? [String] == ["Ingress"])
        #expect(spec["ingress"] == nil, "and allows nothing")
        for service in stack.services {
            let policy = try #require(objects["NetworkPolicy/\(service.name)-ingress"], "\(service.name)")
            var expected = Set(stack.services.filter { $0.dependsOn.contains(service.name) }.map(\.name))
            if service.expose != nil { expected.insert("traefik") }
            #expect(Self.allowedSources(policy) == expected, "\(service.name) is reachable from \(Self.allowedSources(policy)), expected \(expected)")
        }
        let postgres = try #require(objects["NetworkPolicy/postgres-ingress"])
        #expect(Self.allowedSources(postgres) == Set(stack.services.filter { $0.database != nil }.map(\.name)))
    }

    @Test func podsRunAsNonRootOnAReadOnlyFilesystemWithoutPrivileges() async throws {
        let objects = try await Self.objects("prod")
        let deployments = objects.filter { $0.key.hasPrefix("Deployment/") }
        #expect(deployments.count == (try Self.stack()).services.count)
        for (name, deployment) in deployments {
            let pod = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
            let podSecurity = try #require(pod["securityContext"] as? [String: Any], "\(name)")
            #expect(podSecurity["runAsNonRoot"] as? Bool == true, "\(name)")
            for container in (pod["containers"] as? [[String: Any]]) ?? [] {
                let security = try #require(container["securityContext"] as? [String: Any], "\(name)")
                #expect(security["readOnlyRootFilesystem"] as? Bool == true, "\(name)")
                #expect(security["allowPrivilegeEscalation"] as? Bool == false, "\(name)")
                #expect((security["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"], "\(name)")
            }
        }
    }

    /// Tracing per environment: the env file's `otlp_endpoint` (prod's collector; empty, off,
    /// for a local cluster) and each service under its own name.
    @Test(arguments: [("prod", "http://tempo.monitoring.svc:4318"), ("local", "")])
    func tracingIsWiredPerEnvironment(environment: String, endpoint: String) async throws {
        let objects = try await Self.objects(environment)
        let deployments = objects.filter { $0.key.hasPrefix("Deployment/") && $0.key != "Deployment/postgres" }
        #expect(!deployments.isEmpty)
        for (name, deployment) in deployments {
            let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
            let container = try #require((pod["containers"] as? [[String: Any]])?.first)
            var env: [String: String] = [:]
            for variable in (container["env"] as? [[String: Any]]) ?? [] {
                if let key = variable["name"] as? String, let value = variable["value"] as? String { env[key] = value }
            }
            #expect(env["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint, "\(name)")
            #expect(env["OTEL_SERVICE_NAME"] == String(name.dropFirst("Deployment/".count)), "\(name)")
        }
    }

    @Test func servicesFindEachOtherByInClusterNamesAndSecretsComeFromSecrets() async throws {
        let objects = try await Self.objects("prod")
        for (name, deployment) in objects where name.hasPrefix("Deployment/") {
            let pod = ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any] ?? [:]
            for container in (pod["containers"] as? [[String: Any]]) ?? [] {
                for variable in (container["env"] as? [[String: Any]]) ?? [] {
                    let key = variable["name"] as? String ?? ""
                    if let value = variable["value"] as? String {
                        #expect(!value.contains("127.0.0.1") && !value.contains("localhost"), "\(name) \(key)=\(value)")
                        if value.hasPrefix("http") { #expect(value.contains(".svc:"), "\(name) \(key)=\(value)") }
                    }
                    if ["DATABASE_URL", "JWT_SECRET"].contains(key) {
                        #expect(variable["valueFrom"] != nil && variable["value"] == nil, "\(name): \(key) must come from a Secret")
                    }
                }
            }
        }
        // Secret templates carry placeholders, never the development values.
        for (name, secret) in objects where name.hasPrefix("Secret/") {
            let data = (secret["stringData"] as? [String: String]) ?? [:]
            #expect(!data.values.contains { $0.contains("devpass") || $0.contains("dev-secret") }, "\(name)")
        }
    }

    @Test func postgresCreatesEveryServiceDatabase() async throws {
        let objects = try await Self.objects("local")
        let script = try #require(((objects["ConfigMap/postgres-init"]?["data"] as? [String: Any])?.values.compactMap { $0 as? String })?.joined())
        for service in try Self.stack().services {
            guard let database = service.database else { continue }
            #expect(script.contains("CREATE DATABASE \(database)"), "\(database) missing from the init script")
        }
    }
}

/// Yams' parser is not thread-safe on Linux (shared regexes): tests parse under devctl's lock.
enum YAMLLockedLoad {
    static func load(_ text: String) throws -> [String: Any]? {
        try YAMLLock.withLock { try Yams.load(yaml: text) as? [String: Any] }
    }
}
