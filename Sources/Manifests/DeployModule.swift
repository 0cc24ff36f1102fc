import Foundation
import YAMLSupport
import Yams

/// `deploy/k8s/<app>.yaml`: how one application runs on Kubernetes (the YAML successor of the
/// seed's nixidy module).
///
/// ```yaml
/// app: greeter
/// deployment:
///   replicas: 1
///   image: devctl
///   command: [devctl, serve, greeter, --no-config]
///   port: 8080
///   env: {LOG_LEVEL: info}
///   probes: {live: /healthz, ready: /readyz}
///   resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 128Mi}}
/// service: {type: ClusterIP, port: 8080}
/// ```
public struct DeployModule: Sendable, Equatable {
    public var app: String
    public var replicas: Int = 1
    public var image: String = "devctl"
    public var command: [String] = []
    public var port: Int = 0
    public var env: [String: String] = [:]
    public var liveness = "/healthz"
    public var readiness = "/readyz"
    public var resources: [String: [String: String]] = ["requests": ["cpu": "50m", "memory": "64Mi"], "limits": ["memory": "128Mi"]]
    public var serviceType = "ClusterIP"
    public var servicePort: Int = 0

    static func parse(_ text: String, file: String) throws -> DeployModule {
        try YAMLLock.withLock {
            let root = try ConfigFileError.compose(yaml: text, file: file)
            let sink = DiagnosticSink(file: file)
            var module = DeployModule(app: "")
            for (key, value) in YAMLCursor(node: root, keyPath: "", sink: sink).entries(allowedKeys: ["app", "deployment", "service"]) ?? [] {
                switch key {
                case "app": module.app = value.string ?? ""
                case "deployment":
                    for (field, item) in value.entries(allowedKeys: ["replicas", "image", "command", "port", "env", "probes", "resources"]) ?? [] {
                        switch field {
                        case "replicas": module.replicas = item.int ?? 1
                        case "image": module.image = item.string ?? module.image
                        case "command": module.command = item.stringList ?? []
                        case "port": module.port = item.int ?? 0
                        case "env": for (name, envValue) in item.entries() ?? [] { module.env[name] = envValue.string ?? "" }
                        case "probes":
                            for (probe, path) in item.entries(allowedKeys: ["live", "ready"]) ?? [] {
                                if probe == "live" { module.liveness = path.string ?? module.liveness } else { module.readiness = path.string ?? module.readiness }
                            }
                        default:
                            var resources: [String: [String: String]] = [:]
                            for (group, values) in item.entries(allowedKeys: ["requests", "limits"]) ?? [] {
                                var entries: [String: String] = [:]
                                for (resource, amount) in values.entries(allowedKeys: ["cpu", "memory"]) ?? [] { entries[resource] = amount.string ?? "" }
                                resources[group] = entries
                            }
                            module.resources = resources
                        }
                    }
                default:
                    for (field, item) in value.entries(allowedKeys: ["type", "port"]) ?? [] {
                        if field == "type" { module.serviceType = item.string ?? module.serviceType } else { module.servicePort = item.int ?? 0 }
                    }
                }
            }
            if module.app.isEmpty { sink.add(ConfigDiagnostic(file: file, line: nil, keyPath: "app", message: "missing key 'app'")) }
            guard sink.diagnostics.isEmpty else { throw ConfigFileError(sink.diagnostics) }
            if module.servicePort == 0 { module.servicePort = module.port }
            return module
        }
    }
}

/// `deploy/envs/<env>.yaml`: what differs per environment.
public struct DeployEnvironment: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var registry: String = ""
    public var tag: String = "latest"
    public var replicas: Int?
    public var host: String = "localhost"
    public var resources: [String: [String: String]]?
    /// Where the services send traces (`OTEL_EXPORTER_OTLP_ENDPOINT`: a collector or Tempo);
    /// empty, the default, turns tracing off.
    public var otlpEndpoint: String = ""

    static func parse(_ text: String, name: String, file: String) throws -> DeployEnvironment {
        try YAMLLock.withLock {
            let root = try ConfigFileError.compose(yaml: text, file: file)
            let sink = DiagnosticSink(file: file)
            var environment = DeployEnvironment(name: name, namespace: "devctl-\(name)")
            for (key, value) in YAMLCursor(node: root, keyPath: "", sink: sink).entries(allowedKeys: ["namespace", "image", "replicas", "host", "resources", "otlp_endpoint"]) ?? [] {
                switch key {
                case "namespace": environment.namespace = value.string ?? environment.namespace
                case "image":
                    for (field, item) in value.entries(allowedKeys: ["registry", "tag"]) ?? [] {
                        if field == "registry" { environment.registry = item.string ?? "" } else { environment.tag = item.string ?? "latest" }
                    }
                case "replicas": environment.replicas = value.int
                case "host": environment.host = value.string ?? environment.host
                case "otlp_endpoint": environment.otlpEndpoint = value.string ?? ""
                default:
                    var resources: [String: [String: String]] = [:]
                    for (group, values) in value.entries(allowedKeys: ["requests", "limits"]) ?? [] {
                        var entries: [String: String] = [:]
                        for (resource, amount) in values.entries(allowedKeys: ["cpu", "memory"]) ?? [] { entries[resource] = amount.string ?? "" }
                        resources[group] = entries
                    }
                    environment.resources = resources
                }
            }
            guard sink.diagnostics.isEmpty else { throw ConfigFileError(sink.diagnostics) }
            return environment
        }
    }
}
