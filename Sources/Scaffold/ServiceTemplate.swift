import Foundation
import Mustache
import YAMLSupport
import Yams

/// One folder under `templates/`: `template.yaml` plus Mustache files.
///
/// ```yaml
/// description: A Connect RPC service in Swift
/// language: swift          # swift: registered with `devctl serve`; else `command` runs it
/// kind: rpc                # rpc | rest
/// expose_path: /{{snake}}.v1.{{pascal}}Service
/// command: [node, services/{{kebab}}/server.js]     # non-Swift templates only
/// migrations: Sources/Services/{{pascal}}/Migrations
/// variables:
///   - {name: greeting, default: Hello, pattern: '^[A-Za-z ]{1,40}$', description: …}
/// files:
///   - {source: service.swift.mustache, path: Sources/Services/{{pascal}}/{{pascal}}Service.swift}
///   - {source: migration.sql.mustache, path: …, when: database}
/// post: [gen]
/// ```
public struct ServiceTemplate: Sendable {
    public struct Variable: Sendable {
        public var name: String
        public var defaultValue: String
        public var pattern: String?
        public var description: String
    }

    public struct File: Sendable {
        public var source: String
        public var path: String
        /// `database`, `expose`, or nil (always).
        public var when: String?
    }

    public let name: String
    public let folder: String
    public let description: String
    public let language: String
    public let kind: String
    public let exposePath: String
    public let command: [String]?
    public let migrations: String?
    public let variables: [Variable]
    public let files: [File]
    public let post: [String]

    /// Every template under `templatesFolder`, by name.
    public static func all(in templatesFolder: String) throws -> [ServiceTemplate] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: templatesFolder)) ?? []
        return try names.sorted().filter { FileManager.default.fileExists(atPath: "\(templatesFolder)/\($0)/template.yaml") }
            .map { try load(name: $0, from: templatesFolder) }
    }

    /// Reads and checks `templates/NAME/template.yaml`; every problem has file:line.
    public static func load(name: String, from templatesFolder: String) throws -> ServiceTemplate {
        let folder = "\(templatesFolder)/\(name)"
        let file = "templates/\(name)/template.yaml"
        guard let data = FileManager.default.contents(atPath: folder + "/template.yaml") else {
            let known = (try? all(in: templatesFolder).map(\.name)) ?? []
            throw ScaffoldError.usage("no template \"\(name)\" in templates/", hint: known.isEmpty ? nil : "templates: \(known.joined(separator: ", ")) (devctl new --list)")
        }
        return try YAMLLock.withLock {
            let root = try ConfigFileError.compose(yaml: String(decoding: data, as: UTF8.self), file: file)
            let sink = DiagnosticSink(file: file)
            var description = "", language = "swift", kind = "rpc", exposePath = "/{{kebab}}"
            var command: [String]?, migrations: String?, post: [String] = []
            var variables: [Variable] = [], files: [File] = []
            let keys = ["description", "language", "kind", "expose_path", "command", "migrations", "variables", "files", "post"]
            for (key, value) in YAMLCursor(node: root, keyPath: "", sink: sink).entries(allowedKeys: keys) ?? [] {
                switch key {
                case "description": description = value.string ?? ""
                case "language": language = value.string ?? language
                case "kind":
                    kind = value.string ?? kind
                    if !["rpc", "rest"].contains(kind) { value.report("expected rpc or rest, got \"\(kind)\"") }
                case "expose_path": exposePath = value.string ?? exposePath
                case "command": command = value.stringList
                case "migrations": migrations = value.string
                case "post":
                    post = value.stringList ?? []
                    for step in post where step != "gen" { value.report("unknown post-step \"\(step)\"; known: gen") }
                case "variables":
                    guard case .sequence(let items) = value.node else { value.report("expected a list"); continue }
                    for (index, item) in items.enumerated() {
                        let cursor = YAMLCursor(node: item, keyPath: "variables[\(index)]", sink: sink)
                        var variable = Variable(name: "", defaultValue: "", pattern: nil, description: "")
                        for (field, fieldValue) in cursor.entries(allowedKeys: ["name", "default", "pattern", "description"]) ?? [] {
                            switch field {
                            case "name": variable.name = fieldValue.string ?? ""
                            case "default": variable.defaultValue = fieldValue.string ?? ""
                            case "pattern":
                                variable.pattern = fieldValue.string
                                if let pattern = variable.pattern, (try? Regex(pattern)) == nil { fieldValue.report("not a valid regular expression") }
                            default: variable.description = fieldValue.string ?? ""
                            }
                        }
                        if variable.name.isEmpty { cursor.report("a variable needs a name") }
                        variables.append(variable)
                    }
                default: // files
                    guard case .sequence(let items) = value.node else { value.report("expected a list"); continue }
                    for (index, item) in items.enumerated() {
                        let cursor = YAMLCursor(node: item, keyPath: "files[\(index)]", sink: sink)
                        var entry = File(source: "", path: "", when: nil)
                        for (field, fieldValue) in cursor.entries(allowedKeys: ["source", "path", "when"]) ?? [] {
                            switch field {
                            case "source":
                                entry.source = fieldValue.string ?? ""
                                if !FileManager.default.fileExists(atPath: folder + "/" + entry.source) {
                                    fieldValue.report("no file \(entry.source) in templates/\(name)/")
                                }
                            case "path": entry.path = fieldValue.string ?? ""
                            default:
                                entry.when = fieldValue.string
                                if let when = entry.when, !["database", "expose"].contains(when) { fieldValue.report("expected database or expose, got \"\(when)\"") }
                            }
                        }
                        if entry.source.isEmpty || entry.path.isEmpty { cursor.report("a file needs source and path") }
                        files.append(entry)
                    }
                }
            }
            if language != "swift", command == nil { sink.add(ConfigDiagnostic(file: file, line: nil, keyPath: "command", message: "a \(language) template needs a command (how `devctl up` runs it)")) }
            guard sink.diagnostics.isEmpty else { throw ConfigFileError(sink.diagnostics) }
            return ServiceTemplate(name: name, folder: folder, description: description, language: language, kind: kind,
                                   exposePath: exposePath, command: command, migrations: migrations,
                                   variables: variables, files: files, post: post)
        }
    }

    /// Renders a Mustache text; a template error names the file, line and column.
    static func render(_ text: String, _ context: [String: Any], source: String) throws -> String {
        do {
            return try MustacheTemplate(string: text).render(context)
        } catch let error as MustacheTemplate.ParserError {
            throw ScaffoldError.failure("\(source):\(error.context.lineNumber):\(error.context.columnNumber): Mustache error: \(error.error)",
                                        hint: "fix the template; nothing was written")
        }
    }
}
