import DevctlCore
import Foundation
import YAMLSupport

/// `buf.gen.yaml` (version v2), read the way buf reads it.
public struct GenerateConfig: Sendable, Equatable {
    /// Remove generated files that are no longer produced (only those; see ``CodeGenerator``).
    public var clean: Bool
    /// Directories holding the .proto sources, relative to the repository root.
    public var inputs: [String]
    public var plugins: [PluginConfig]

    public init(clean: Bool = false, inputs: [String], plugins: [PluginConfig]) {
        self.clean = clean
        self.inputs = inputs
        self.plugins = plugins
    }
}

/// One `plugins:` entry.
public struct PluginConfig: Sendable, Equatable {
    /// Where the generator comes from.
    public enum Source: Sendable, Equatable {
        /// A protoc plugin program: its name (looked up on PATH) or path, and arguments.
        case local([String])
        /// A generator built into protoc (`cpp`, `python`, `java` …).
        case protocBuiltin(String)
    }

    /// How files are grouped into plugin requests.
    public enum Strategy: String, Sendable, Equatable {
        /// One request per directory (buf's default).
        case directory
        /// One request with every file.
        case all
    }

    public var source: Source
    /// Output folder, relative to the repository root (never outside it).
    public var out: String
    /// Options, joined with "," into the request's parameter.
    public var options: [String]
    public var strategy: Strategy
    public var includeImports: Bool
    public var includeWellKnownTypes: Bool

    public init(source: Source, out: String, options: [String] = [], strategy: Strategy = .directory,
                includeImports: Bool = false, includeWellKnownTypes: Bool = false) {
        self.source = source
        self.out = out
        self.options = options
        self.strategy = strategy
        self.includeImports = includeImports
        self.includeWellKnownTypes = includeWellKnownTypes
    }

    /// How messages name the plugin: `protoc-gen-swift`, `protoc_builtin:python`.
    public var displayName: String {
        switch source {
        case .local(let argv): return argv.first.map { ($0 as NSString).lastPathComponent } ?? "?"
        case .protocBuiltin(let name): return "protoc_builtin:\(name)"
        }
    }
}

extension GenerateConfig {
    /// The file name `devctl gen` reads at the repository root.
    public static let fileName = "buf.gen.yaml"

    /// Reads `buf.gen.yaml`; without `inputs`, the modules of `buf.yaml` next to it are used.
    public static func load(repositoryRoot root: String, path: String = fileName) throws -> GenerateConfig {
        guard let data = FileManager.default.contents(atPath: root + "/" + path) else {
            throw DevctlFailure("cannot read \(path) in \(root)", hint: "create a buf.gen.yaml (version: v2) at the repository root", exitCode: 2)
        }
        var config = try parse(yaml: String(decoding: data, as: UTF8.self), file: path)
        if config.inputs.isEmpty {
            config.inputs = try moduleDirectories(repositoryRoot: root)
        }
        return config
    }

    /// `modules[].path` of buf.yaml (v2), or `.` when there is no buf.yaml.
    static func moduleDirectories(repositoryRoot root: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: root + "/buf.yaml") else { return ["."] }
        return try YAMLLock.withLock { try moduleDirectories(bufYAML: data) }
    }

    private static func moduleDirectories(bufYAML data: Data) throws -> [String] {
        let sink = DiagnosticSink(file: "buf.yaml")
        let node = try ConfigFileError.compose(yaml: String(decoding: data, as: UTF8.self), file: "buf.yaml")
        var directories: [String] = []
        for (key, value) in YAMLCursor(node: node, keyPath: "", sink: sink).entries() ?? [] where key == "modules" {
            guard case .sequence(let modules) = value.node else {
                value.report("expected a list of modules")
                continue
            }
            for (index, module) in modules.enumerated() {
                let cursor = YAMLCursor(node: module, keyPath: "modules[\(index)]", sink: sink)
                for (moduleKey, moduleValue) in cursor.entries() ?? [] where moduleKey == "path" {
                    if let path = moduleValue.string { directories.append(path) }
                }
            }
        }
        guard sink.diagnostics.isEmpty else { throw ConfigFileError(sink.diagnostics) }
        return directories.isEmpty ? ["."] : directories
    }

    /// Decodes buf.gen.yaml text; every problem is reported with its line.
    public static func parse(yaml: String, file: String = fileName) throws -> GenerateConfig {
        try YAMLLock.withLock { try parseUnlocked(yaml: yaml, file: file) }
    }

    private static func parseUnlocked(yaml: String, file: String) throws -> GenerateConfig {
        let root = try ConfigFileError.compose(yaml: yaml, file: file)
        let sink = DiagnosticSink(file: file)
        let cursor = YAMLCursor(node: root, keyPath: "", sink: sink)
        var config = GenerateConfig(inputs: [], plugins: [])
        var sawVersion = false
        for (key, value) in cursor.entries(allowedKeys: ["version", "clean", "plugins", "inputs", "managed"]) ?? [] {
            switch key {
            case "version":
                sawVersion = true
                if let version = value.string, version != "v2" {
                    value.report("devctl reads buf.gen.yaml version v2, got \"\(version)\"")
                }
            case "clean":
                config.clean = value.bool ?? false
            case "managed":
                // Managed mode rewrites file options (go_package …); generating without it would
                // silently differ from buf, so refuse instead.
                value.report("managed mode is not supported by devctl gen; set the options in the .proto files instead")
            case "inputs":
                config.inputs = decodeInputs(value)
            case "plugins":
                config.plugins = decodePlugins(value)
            default:
                break
            }
        }
        if !sawVersion { cursor.report("missing key 'version' (v2)") }
        if config.plugins.isEmpty, sink.diagnostics.isEmpty { cursor.report("no plugins: nothing to generate") }
        guard sink.diagnostics.isEmpty else { throw ConfigFileError(sink.diagnostics) }
        return config
    }

    private static func decodeInputs(_ value: YAMLCursor) -> [String] {
        guard case .sequence(let items) = value.node else {
            value.report("expected a list of inputs")
            return []
        }
        var directories: [String] = []
        for (index, item) in items.enumerated() {
            let input = YAMLCursor(node: item, keyPath: "inputs[\(index)]", sink: value.sink)
            for (key, field) in input.entries() ?? [] {
                if key == "directory" {
                    if let directory = field.string {
                        if let problem = RepositoryPath.problem(with: directory) {
                            field.report(problem)
                        } else {
                            directories.append(directory)
                        }
                    }
                } else if ["git_repo", "module", "tarball", "zip_archive", "proto_file", "binary_image", "json_image", "text_image", "yaml_image"].contains(key) {
                    field.report("input type '\(key)' needs a network or buf's image formats; devctl gen reads local directories (inputs: [{directory: proto}])")
                } else if ["paths", "exclude_paths"].contains(key) {
                    // Ignoring a filter would silently generate more than asked: refuse instead.
                    field.report("'\(key)' is not supported by devctl gen yet; split the protos into their own input directory")
                } else {
                    field.report("unknown input key")
                }
            }
        }
        return directories
    }

    private static let pluginKeys = [
        "local", "protoc_builtin", "remote", "out", "opt", "strategy", "include_imports", "include_wkt",
        "protoc_path", "revision", "types", "exclude_types",
    ]

    private static func decodePlugins(_ value: YAMLCursor) -> [PluginConfig] {
        guard case .sequence(let items) = value.node else {
            value.report("expected a list of plugins")
            return []
        }
        var plugins: [PluginConfig] = []
        for (index, item) in items.enumerated() {
            let cursor = YAMLCursor(node: item, keyPath: "plugins[\(index)]", sink: value.sink)
            var source: PluginConfig.Source?
            var out: String?
            var plugin = PluginConfig(source: .local([]), out: "")
            let entries = cursor.entries(allowedKeys: pluginKeys) ?? []
            for (key, field) in entries {
                switch key {
                case "local":
                    if let argv = field.stringList, !argv.isEmpty { source = .local(argv) } else { field.report("expected a program name or an argv list") }
                case "protoc_builtin":
                    if let name = field.string { source = .protocBuiltin(name) }
                case "remote":
                    let name = field.string ?? "?"
                    let suggestion = name.split(separator: "/").last.map { " (e.g. `local: protoc-gen-\($0.split(separator: ":").first ?? $0)` on PATH)" } ?? ""
                    field.report("remote plugins need the network (BSR); install the plugin locally and use `local:` instead\(suggestion)")
                case "out":
                    if let path = field.string {
                        if let problem = RepositoryPath.problem(with: path) { field.report(problem) } else { out = path }
                    }
                case "opt":
                    plugin.options = field.stringList ?? []
                case "strategy":
                    if let raw = field.string {
                        if let strategy = PluginConfig.Strategy(rawValue: raw) { plugin.strategy = strategy } else { field.report("expected directory or all, got \"\(raw)\"") }
                    }
                case "include_imports":
                    plugin.includeImports = field.bool ?? false
                case "include_wkt":
                    plugin.includeWellKnownTypes = field.bool ?? false
                default:
                    field.report("'\(key)' is not supported by devctl gen")
                }
            }
            if source == nil, !entries.contains(where: { $0.key == "remote" }) {
                cursor.report("missing 'local' or 'protoc_builtin'")
            }
            if out == nil, !entries.contains(where: { $0.key == "out" }) {
                cursor.report("missing key 'out'")
            }
            if let source, let out {
                plugin.source = source
                plugin.out = out
                plugins.append(plugin)
            }
        }
        return plugins
    }
}

/// Checks on paths that must stay inside the repository.
enum RepositoryPath {
    /// Why `path` is not an acceptable repository-relative path, or `nil` when it is.
    static func problem(with path: String) -> String? {
        if path.isEmpty { return "the path is empty" }
        if path.hasPrefix("/") { return "\"\(path)\" is absolute; use a path inside the repository" }
        var depth = 0
        for component in path.split(separator: "/") {
            if component == ".." { depth -= 1 } else if component != "." { depth += 1 }
            if depth < 0 { return "\"\(path)\" leaves the repository; use a path inside it" }
        }
        return nil
    }
}
