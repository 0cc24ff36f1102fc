import Foundation
import YAMLSupport

extension StackConfig {
    /// The file name devctl looks for at the repository root.
    public static let fileName = "devctl.yaml"

    /// Reads, decodes and validates `path`; `displayName` is how messages name the file.
    public static func load(contentsOf path: String, displayName: String? = nil) throws -> StackConfig {
        let shownAs = displayName ?? path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StackConfigError([ConfigDiagnostic(
                file: shownAs, line: nil, keyPath: "",
                message: "cannot read the file (does it exist?)"
            )])
        }
        return try parse(yaml: String(decoding: data, as: UTF8.self), file: shownAs)
    }

    /// Decodes and validates YAML text; `file` names it in diagnostics.
    public static func parse(yaml: String, file: String = fileName) throws -> StackConfig {
        let config: StackConfig = try YAMLLock.withLock {
            let root = try ConfigFileError.compose(yaml: yaml, file: file)
            let sink = DiagnosticSink(file: file)
            let decoded = decode(YAMLCursor(node: root, keyPath: "", sink: sink))
            guard sink.diagnostics.isEmpty, let config = decoded else {
                throw StackConfigError(sink.diagnostics)
            }
            return config
        }
        let problems = config.validate()
        guard problems.isEmpty else { throw StackConfigError(problems) }
        return config
    }

    private static func decode(_ root: YAMLCursor) -> StackConfig? {
        var lines: [String: Int] = [:]
        var version = 1
        var postgres = PostgresSettings()
        var edge = EdgeSettings()
        var traces = TraceSettings()
        var dashboard = DashboardSettings()
        var services: [ServiceSpec] = []
        var sawServices = false
        guard let entries = root.entries(allowedKeys: ["version", "postgres", "edge", "traces", "dashboard", "services"]) else { return nil }
        for (key, value) in entries {
            lines[value.keyPath] = value.line
            switch key {
            case "version":
                if let number = value.int {
                    if number == 1 { version = number } else { value.report("unsupported version \(number); this devctl reads version 1") }
                }
            case "postgres":
                postgres = decodePostgres(value, lines: &lines)
            case "edge":
                edge = decodeEdge(value, lines: &lines)
            case "traces":
                traces = decodeTraces(value, lines: &lines)
            case "dashboard":
                for (dashboardKey, setting) in value.entries(allowedKeys: ["port"]) ?? [] where dashboardKey == "port" {
                    lines[setting.keyPath] = setting.line
                    dashboard.port = setting.int ?? dashboard.port
                }
            case "services":
                sawServices = true
                for (name, spec) in value.entries() ?? [] {
                    lines[spec.keyPath] = spec.line
                    if let service = decodeService(name: name, spec, lines: &lines) { services.append(service) }
                }
            default:
                break
            }
        }
        if !sawServices { root.report("missing key 'services'") }
        var config = StackConfig(version: version, postgres: postgres, edge: edge, services: services,
                                 source: SourceMap(file: root.sink.file, lines: lines))
        config.traces = traces
        config.dashboard = dashboard
        return config
    }

    private static func decodePostgres(_ cursor: YAMLCursor, lines: inout [String: Int]) -> PostgresSettings {
        var settings = PostgresSettings()
        for (key, value) in cursor.entries(allowedKeys: ["host", "port", "user", "password"]) ?? [] {
            lines[value.keyPath] = value.line
            switch key {
            case "host": settings.host = value.string ?? settings.host
            case "port": settings.port = value.int ?? settings.port
            case "user": settings.user = value.string ?? settings.user
            case "password": settings.password = value.string ?? settings.password
            default: break
            }
        }
        return settings
    }

    private static func decodeEdge(_ cursor: YAMLCursor, lines: inout [String: Int]) -> EdgeSettings {
        var settings = EdgeSettings()
        for (key, value) in cursor.entries(allowedKeys: ["port", "cors_origins", "rate_limit"]) ?? [] {
            lines[value.keyPath] = value.line
            switch key {
            case "port": settings.port = value.int ?? settings.port
            case "cors_origins": settings.corsOrigins = value.stringList ?? []
            case "rate_limit":
                for (limitKey, limit) in value.entries(allowedKeys: ["average", "burst"]) ?? [] {
                    lines[limit.keyPath] = limit.line
                    guard let number = limit.int else { continue }
                    guard number > 0 else {
                        limit.report("must be a positive number of requests")
                        continue
                    }
                    if limitKey == "average" { settings.rateLimitAverage = number } else { settings.rateLimitBurst = number }
                }
            default: break
            }
        }
        return settings
    }

    private static func decodeTraces(_ cursor: YAMLCursor, lines: inout [String: Int]) -> TraceSettings {
        var settings = TraceSettings()
        for (key, value) in cursor.entries(allowedKeys: ["port", "keep", "sample_per_second"]) ?? [] {
            lines[value.keyPath] = value.line
            switch key {
            case "port": settings.port = value.int ?? settings.port
            case "keep":
                guard let number = value.int else { continue }
                guard (1...100_000).contains(number) else {
                    value.report("must be a number of traces from 1 to 100000")
                    continue
                }
                settings.keep = number
            case "sample_per_second":
                if value.node.scalar?.string == "all" {
                    settings.samplePerSecond = nil
                    continue
                }
                guard let scalar = value.node.scalar, scalar.style == .plain, let number = Int(scalar.string), (1...1_000_000).contains(number) else {
                    value.report("must be a number of new traces per second from 1 to 1000000, or all")
                    continue
                }
                settings.samplePerSecond = number
            default: break
            }
        }
        return settings
    }

    private static let serviceKeys = [
        "kind", "port", "database", "migrations", "depends_on", "environment", "health", "expose", "command", "build",
    ]

    private static func decodeService(name: String, _ cursor: YAMLCursor, lines: inout [String: Int]) -> ServiceSpec? {
        var kind: ServiceSpec.Kind?
        var port: Int?
        var spec = ServiceSpec(name: name, kind: .rpc, port: 0)
        guard let entries = cursor.entries(allowedKeys: serviceKeys) else { return nil }
        for (key, value) in entries {
            lines[value.keyPath] = value.line
            switch key {
            case "kind":
                if let raw = value.string {
                    kind = ServiceSpec.Kind(rawValue: raw)
                    if kind == nil {
                        value.report("expected one of \(ServiceSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(raw)\"")
                    }
                }
            case "port":
                port = value.int
            case "database":
                spec.database = value.isFalse ? nil : value.string
            case "migrations":
                spec.migrations = value.string
            case "depends_on":
                spec.dependsOn = value.stringList ?? []
                for index in spec.dependsOn.indices {
                    lines["\(value.keyPath)[\(index)]"] = value.lineOfItem(index)
                }
            case "environment":
                for (variable, defaultValue) in value.entries() ?? [] {
                    lines[defaultValue.keyPath] = defaultValue.line
                    if let text = defaultValue.string {
                        spec.environment.append(EnvironmentVariable(name: variable, value: text))
                    }
                }
            case "command":
                if let command = value.stringList {
                    if command.isEmpty { value.report("expected the program and its arguments, e.g. [node, services/billing/server.js]") }
                    spec.command = command.isEmpty ? nil : command
                }
            case "build":
                var step = ServiceSpec.BuildStep(command: [])
                for (buildKey, setting) in value.entries(allowedKeys: ["command", "watch"]) ?? [] {
                    lines[setting.keyPath] = setting.line
                    guard let list = setting.stringList else { continue }
                    if buildKey == "command" {
                        if list.isEmpty { setting.report("expected the program and its arguments, e.g. [sh, frontend/build.sh]") }
                        step.command = list
                    } else {
                        step.watch = list
                    }
                }
                if step.command.isEmpty, value.entries() != nil, !(value.entries() ?? []).contains(where: { $0.key == "command" }) {
                    value.report("missing key 'command' (the program and its arguments)")
                }
                if !step.command.isEmpty { spec.build = step }
            case "health":
                for (healthKey, path) in value.entries(allowedKeys: ["live", "ready"]) ?? [] {
                    lines[path.keyPath] = path.line
                    guard let text = path.string else { continue }
                    if healthKey == "live" { spec.health.live = text } else { spec.health.ready = text }
                }
            case "expose":
                if value.isFalse { break }
                spec.expose = decodeExposure(value, lines: &lines)
            default:
                break
            }
        }
        if kind == nil, !entries.contains(where: { $0.key == "kind" }) {
            cursor.report("missing key 'kind' (rpc or rest)")
        }
        if port == nil, !entries.contains(where: { $0.key == "port" }) {
            cursor.report("missing key 'port'")
        }
        guard let kind, let port else { return nil }
        spec.kind = kind
        spec.port = port
        return spec
    }

    private static func decodeExposure(_ cursor: YAMLCursor, lines: inout [String: Int]) -> Exposure? {
        var path: String?
        var middlewares: [Exposure.Middleware] = []
        for (key, value) in cursor.entries(allowedKeys: ["path", "middlewares"]) ?? [] {
            lines[value.keyPath] = value.line
            switch key {
            case "path":
                path = value.string
            case "middlewares":
                for (index, raw) in (value.stringList ?? []).enumerated() {
                    if let middleware = Exposure.Middleware(rawValue: raw) {
                        middlewares.append(middleware)
                    } else {
                        value.report(
                            "unknown middleware \"\(raw)\"; known: \(Exposure.Middleware.allCases.map(\.rawValue).joined(separator: ", "))",
                            line: value.lineOfItem(index), keyPath: "\(value.keyPath)[\(index)]"
                        )
                    }
                }
            default:
                break
            }
        }
        guard let path else {
            cursor.report("missing key 'path' (or write `expose: false` for an internal service)")
            return nil
        }
        return Exposure(pathPrefix: path, middlewares: middlewares)
    }
}
