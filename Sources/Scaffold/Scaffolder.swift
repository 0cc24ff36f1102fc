import DevctlCore
import Foundation
import StackModel

/// `devctl new service`: renders a template into a plan (files, the devctl.yaml entry, the
/// service registry), validates all of it, then writes it — or nothing.
public struct Scaffolder: Sendable {
    public let repositoryRoot: String
    /// Where `--port` is chosen from when not given.
    public static let portRange = 8100...8999

    public init(repositoryRoot: String) {
        self.repositoryRoot = repositoryRoot
    }

    public var templatesFolder: String { repositoryRoot + "/templates" }

    // MARK: Plan

    public func plan(_ request: ScaffoldRequest) throws -> ScaffoldPlan {
        let names = try ServiceNames(request.name)
        let configPath = repositoryRoot + "/devctl.yaml"
        let config = try StackConfig.load(contentsOf: configPath, displayName: "devctl.yaml")
        if config.service(named: names.kebab) != nil {
            let line = config.source.line(of: "services.\(names.kebab)").map { ":\($0)" } ?? ""
            throw ScaffoldError.usage("service \(names.kebab) already exists (devctl.yaml\(line))", hint: "choose another name")
        }
        for dependency in request.dependsOn where config.service(named: dependency) == nil {
            throw ScaffoldError.usage("--depends-on \(dependency): no such service in devctl.yaml", hint: "services: \(config.services.map(\.name).joined(separator: ", "))")
        }
        let template = try ServiceTemplate.load(name: request.template, from: templatesFolder)
        let port = try choosePort(request.port, config: config)
        let expose = request.expose ?? false
        var context: [String: Any] = [
            "kebab": names.kebab, "pascal": names.pascal, "snake": names.snake, "camel": names.camel,
            "port": port, "database": request.database, "databaseName": "\(names.snake)_db", "expose": expose,
            "dependsOn": request.dependsOn, "hasDependencies": !request.dependsOn.isEmpty,
        ]
        try bindVariables(template, request.variables, into: &context)
        let exposePath = try ServiceTemplate.render(template.exposePath, context, source: "templates/\(template.name)/template.yaml: expose_path")
        context["exposePath"] = exposePath

        var files: [ScaffoldPlan.FileChange] = []
        for file in template.files {
            if file.when == "database", !request.database { continue }
            if file.when == "expose", !expose { continue }
            let path = try ServiceTemplate.render(file.path, context, source: "templates/\(template.name)/template.yaml: \(file.path)")
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains(".."), !path.isEmpty else {
                throw ScaffoldError.failure("templates/\(template.name)/template.yaml: path \"\(path)\" must stay inside the repository")
            }
            guard !FileManager.default.fileExists(atPath: repositoryRoot + "/" + path) else {
                throw ScaffoldError.usage("\(path) already exists; devctl new never overwrites a file", hint: "remove it or choose another name")
            }
            let source = template.folder + "/" + file.source
            guard let text = FileManager.default.contents(atPath: source).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ScaffoldError.failure("cannot read \(source)")
            }
            files.append(.init(path: path, action: "create", content: try ServiceTemplate.render(text, context, source: "templates/\(template.name)/\(file.source)")))
        }

        // devctl.yaml: the new entry, checked by parsing the whole edited file.
        let migrations = try template.migrations.map { try ServiceTemplate.render($0, context, source: "templates/\(template.name)/template.yaml: migrations") }
        let command = try template.command?.map { try ServiceTemplate.render($0, context, source: "templates/\(template.name)/template.yaml: command") }
        let entry = Self.stackEntry(names: names, kind: template.kind, port: port, database: request.database ? "\(names.snake)_db" : nil,
                                    migrations: request.database ? migrations : nil, dependsOn: request.dependsOn, command: command,
                                    exposePath: expose ? exposePath : nil)
        let original = try String(contentsOfFile: configPath, encoding: .utf8)
        let edited = try StackFileEditor.adding(entry, to: original)
        let newConfig: StackConfig
        do {
            newConfig = try StackConfig.parse(yaml: edited, file: "devctl.yaml (with \(names.kebab) added)")
        } catch let error as any UserFacingError {
            throw ScaffoldError.failure("the new entry would make devctl.yaml invalid: \(error.message)", hint: "check templates/\(template.name)/template.yaml")
        }
        files.append(.init(path: "devctl.yaml", action: "update", content: edited))

        if template.language == "swift" {
            let created = Set(files.map(\.path))
            let typeNames = newConfig.services.compactMap { service -> String? in
                let pascal = (try? ServiceNames(service.name).pascal) ?? service.name
                let path = "Sources/Services/\(pascal)/\(pascal)Service.swift"
                let exists = created.contains(path) || FileManager.default.fileExists(atPath: repositoryRoot + "/" + path)
                return exists && service.command == nil ? "\(pascal)Service" : nil
            }
            files.append(.init(path: RegistryRenderer.path, action: "update", content: RegistryRenderer.render(typeNames: typeNames)))
        }
        return ScaffoldPlan(service: names.kebab, template: template.name, port: port, database: request.database ? "\(names.snake)_db" : nil,
                            exposedAt: expose ? exposePath : nil, files: files, postSteps: template.post)
    }

    private func choosePort(_ requested: Int?, config: StackConfig) throws -> Int {
        let taken = Set(config.services.map(\.port) + [config.postgres.port, config.edge.port])
        if let requested {
            guard (1...65535).contains(requested) else { throw ScaffoldError.usage("--port \(requested) is not a port number (1-65535)") }
            if let owner = config.services.first(where: { $0.port == requested })?.name ?? (requested == config.postgres.port ? "postgres" : requested == config.edge.port ? "edge" : nil) {
                throw ScaffoldError.usage("--port \(requested) is already used by \(owner) in devctl.yaml", hint: "leave --port out to take the next free one")
            }
            return requested
        }
        guard let free = Self.portRange.first(where: { !taken.contains($0) && PortProbe.isFree($0) }) else {
            throw ScaffoldError.failure("no free port in \(Self.portRange.lowerBound)-\(Self.portRange.upperBound)", hint: "pass --port")
        }
        return free
    }

    private func bindVariables(_ template: ServiceTemplate, _ given: [String: String], into context: inout [String: Any]) throws {
        for name in given.keys where !template.variables.contains(where: { $0.name == name }) {
            throw ScaffoldError.usage("template \(template.name) has no variable \"\(name)\"",
                                      hint: template.variables.isEmpty ? "it takes none" : "variables: \(template.variables.map(\.name).joined(separator: ", "))")
        }
        for variable in template.variables {
            let value = given[variable.name] ?? variable.defaultValue
            if let pattern = variable.pattern, let regex = try? Regex(pattern), (try? regex.wholeMatch(in: value)) == nil {
                throw ScaffoldError.usage("--set \(variable.name)=\(value) does not match \(pattern)", hint: variable.description.isEmpty ? nil : variable.description)
            }
            context[variable.name] = value
        }
    }

    /// The service's block in devctl.yaml.
    static func stackEntry(names: ServiceNames, kind: String, port: Int, database: String?, migrations: String?,
                           dependsOn: [String], command: [String]?, exposePath: String?) -> String {
        var lines = ["  \(names.kebab):", "    kind: \(kind)", "    port: \(port)"]
        if let database { lines.append("    database: \(database)") }
        if let migrations { lines.append("    migrations: \(migrations)") }
        if !dependsOn.isEmpty { lines.append("    depends_on: [\(dependsOn.joined(separator: ", "))]") }
        if let command { lines.append("    command: [\(command.joined(separator: ", "))]") }
        lines += ["    environment:", "      LOG_LEVEL: info"]
        if let exposePath {
            lines += ["    expose:", "      path: \(exposePath)", "      middlewares: [cors, auth, rate-limit]"]
        } else {
            lines.append("    expose: false")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: Apply

    /// Writes the plan, then runs its post-steps; if anything fails, everything written is
    /// removed and every updated file restored.
    public func apply(_ plan: ScaffoldPlan, postStep: (String) async throws -> Void) async throws {
        var created: [String] = []
        var createdDirectories: [String] = []
        var originals: [String: Data] = [:]
        func rollback() {
            for path in created.reversed() { try? FileManager.default.removeItem(atPath: path) }
            for directory in createdDirectories.reversed() { try? FileManager.default.removeItem(atPath: directory) }
            for (path, data) in originals { try? data.write(to: URL(fileURLWithPath: path)) }
        }
        do {
            for change in plan.files {
                let path = repositoryRoot + "/" + change.path
                if change.action == "create" {
                    guard !FileManager.default.fileExists(atPath: path) else { throw ScaffoldError.usage("\(change.path) appeared meanwhile; nothing written") }
                    var missing: [String] = []
                    var directory = (path as NSString).deletingLastPathComponent
                    while !FileManager.default.fileExists(atPath: directory) {
                        missing.append(directory)
                        directory = (directory as NSString).deletingLastPathComponent
                    }
                    for folder in missing.reversed() {
                        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
                        createdDirectories.append(folder)
                    }
                    try Data(change.content.utf8).write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
                    created.append(path)
                } else {
                    originals[path] = FileManager.default.contents(atPath: path) ?? Data()
                    try Data(change.content.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                }
            }
            for step in plan.postSteps { try await postStep(step) }
        } catch let error as ScaffoldError {
            rollback()
            throw error
        } catch {
            rollback()
            throw ScaffoldError.failure("cannot write the new service: \((error as? any UserFacingError)?.message ?? "\(error)")", hint: "nothing was left behind")
        }
    }
}
