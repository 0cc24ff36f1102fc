import Crypto
import DevctlCore
import Foundation
import SwiftProtobuf

/// `devctl gen`: buf.gen.yaml → protoc descriptors → plugins (in parallel) → files.
///
/// Writes only files whose content changed; with `clean`, removes generated files that no plugin
/// produces any more (files devctl generated before, or marked "DO NOT EDIT") and nothing else.
/// When the protos, the config and the plugin programs are unchanged since the last run, a
/// content cache answers without running protoc or any plugin.
public struct CodeGenerator: Sendable {
    public let repositoryRoot: String
    public let configPath: String
    public let config: GenerateConfig
    /// Mixed into the cache key, so a new devctl regenerates.
    public let toolVersion: String
    /// Told what takes long (building a missing plugin), for the command to show.
    public let progress: @Sendable (String) -> Void

    public init(repositoryRoot: String, configPath: String = GenerateConfig.fileName, toolVersion: String,
                progress: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.repositoryRoot = repositoryRoot
        self.configPath = configPath
        self.config = try GenerateConfig.load(repositoryRoot: repositoryRoot, path: configPath)
        self.toolVersion = toolVersion
        self.progress = progress
    }

    /// One cache per template, so two templates never take each other's outputs for stale ones.
    private var cacheFile: String {
        let name = configPath.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return repositoryRoot + "/.devctl/gen/\(String(name)).json"
    }

    /// Folders `clean` never walks: version control, build output, dependencies, devctl's state.
    private static let untouchableFolders: Set<String> = [".git", ".build", ".devctl", ".swiftpm", "node_modules", "vendor"]

    /// Generates (or, with `check`, only compares) and reports per plugin.
    public func run(check: Bool = false) async throws -> GenerateReport {
        if config.clean, let plugin = config.plugins.first(where: { normalizedOut($0).isEmpty }) {
            throw DevctlFailure(
                "\(configPath): clean is on and plugin \(plugin.displayName) writes to the repository root (out: \(plugin.out)); cleaning would walk the whole repository",
                hint: "give the plugin its own out folder, or set clean: false", exitCode: 2
            )
        }
        let protoc = try ProtoCompiler.locate()
        var argvs: [[String]] = []
        for plugin in config.plugins { argvs.append(try await resolve(plugin)) }
        var inputs: [(directory: String, files: [String])] = []
        for directory in config.inputs {
            inputs.append((directory, try ProtoCompiler.protoFiles(in: repositoryRoot, directory: directory)))
        }
        // devctl itself counts as a plugin program: it carries the built-in generator.
        let devctl = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        // Script plugins (`local: [python3, gen.py]`): the script is an executable input too.
        let scripts = argvs.flatMap { $0.dropFirst() }.filter { FileManager.default.fileExists(atPath: $0) || FileManager.default.fileExists(atPath: repositoryRoot + "/" + $0) }
            .map { $0.hasPrefix("/") ? $0 : repositoryRoot + "/" + $0 }
        let key = try cacheKey(inputs: inputs, executables: [protoc.protoc, devctl] + argvs.compactMap(\.first) + scripts, arguments: argvs)
        let previous = GenerationCache.load(from: cacheFile)
        if let previous, previous.key == key, previous.outputsIntact(root: repositoryRoot) {
            let plugins = config.plugins.map { plugin in
                PluginReport(plugin: plugin.displayName, out: plugin.out, written: [],
                             unchanged: previous.outputs.keys.filter { $0.hasPrefix(normalizedOut(plugin) + "/") }.count, durationMs: 0)
            }
            return GenerateReport(cached: true, check: check, plugins: plugins, removed: [])
        }

        // Parse once per input directory, then run every plugin in parallel over the results.
        var parsed: [PluginRunner.Input] = []
        for input in inputs where !input.files.isEmpty {
            let descriptors = try await protoc.compile(root: repositoryRoot, directory: input.directory, files: input.files)
            parsed.append(PluginRunner.Input(directory: input.directory, files: input.files, descriptors: descriptors))
        }
        let version = try await protoc.version()
        let runners = zip(config.plugins, argvs).map { plugin, argv in
            PluginRunner(root: repositoryRoot, plugin: plugin, argv: argv, protoc: protoc, compilerVersion: version)
        }
        let results = try await withThrowingTaskGroup(of: (Int, [GeneratedFile], Int).self) { group in
            for (index, runner) in runners.enumerated() {
                let inputs = parsed
                group.addTask {
                    let clock = ContinuousClock()
                    let start = clock.now
                    let files = try await runner.run(inputs)
                    let elapsed = clock.now - start
                    return (index, files, Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000))
                }
            }
            var collected: [(Int, [GeneratedFile], Int)] = []
            for try await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }
        }

        // Every output, repository-relative; two plugins writing one path is an error.
        var desired: [String: String] = [:]
        var owners: [String: String] = [:]
        for (index, files, _) in results {
            let plugin = config.plugins[index]
            for file in files {
                let path = normalizedOut(plugin) + "/" + file.name
                if let owner = owners[path] {
                    throw DevctlFailure("\(path) is produced by both \(owner) and \(plugin.displayName); nothing was written",
                                        hint: "give the plugins different out folders")
                }
                owners[path] = plugin.displayName
                desired[path] = file.content
            }
        }

        let stale = config.clean ? staleFiles(desired: desired, previous: previous) : []
        var reports: [PluginReport] = []
        for (index, files, duration) in results {
            let plugin = config.plugins[index]
            var written: [String] = []
            var unchanged = 0
            for file in files.sorted(by: { $0.name < $1.name }) {
                let path = normalizedOut(plugin) + "/" + file.name
                let absolute = repositoryRoot + "/" + path
                if FileManager.default.contents(atPath: absolute) == Data(file.content.utf8) {
                    unchanged += 1
                    continue
                }
                written.append(path)
                if !check { try writeAtomically(file.content, to: absolute) }
            }
            let out = normalizedOut(plugin) + "/"
            reports.append(PluginReport(plugin: plugin.displayName, out: plugin.out, written: written, unchanged: unchanged,
                                        removed: stale.filter { $0.hasPrefix(out) }, durationMs: duration))
        }
        if !check {
            for path in stale { try FileManager.default.removeItem(atPath: repositoryRoot + "/" + path) }
            try GenerationCache(key: key, outputs: desired.mapValues(GenerationCache.digest)).save(to: cacheFile)
        }
        return GenerateReport(cached: false, check: check, plugins: reports, removed: stale)
    }

    // MARK: Internals

    private func normalizedOut(_ plugin: PluginConfig) -> String {
        URL(fileURLWithPath: plugin.out, relativeTo: URL(fileURLWithPath: "/")).standardizedFileURL.path.dropFirst().description
    }

    /// The program and arguments of a `local` plugin, resolved to an absolute path.
    /// Names are looked up on PATH, then in this package's `.build/{debug,release}` (where
    /// `swift build --product protoc-gen-swift` puts it). A missing protoc-gen-swift in a package
    /// that provides it (swift-protobuf is a dependency) is built on first need, so every verb
    /// works right after `swift build --product devctl`.
    private func resolve(_ plugin: PluginConfig) async throws -> [String] {
        guard case .local(let argv) = plugin.source, let program = argv.first else { return [] }
        if ConnectSwiftGenerator.isBuiltIn(argv) || ConnectTSGenerator.isBuiltIn(argv) { return [] } // runs in-process
        let buildFolders = [".build/debug", ".build/release"].map { repositoryRoot + "/" + $0 }
        // protoc-gen-swift (by name, or through buf.gen.yaml's launcher) is built by this
        // package: on first need devctl builds it, saying so, rather than failing or running a
        // silent minute-long build inside the plugin call.
        if (program as NSString).lastPathComponent == "protoc-gen-swift",
           !buildFolders.contains(where: { FileManager.default.isExecutableFile(atPath: $0 + "/protoc-gen-swift") }),
           !program.contains("/") ? Subprocess.findExecutable(program) == nil : true {
            try await buildSwiftPlugin()
        }
        if program.contains("/") {
            let absolute = program.hasPrefix("/") ? program : repositoryRoot + "/" + program
            guard FileManager.default.isExecutableFile(atPath: absolute) else {
                throw DevctlFailure("plugin \(program) was not found (or is not executable) at \(absolute)", exitCode: 2)
            }
            return [absolute] + argv.dropFirst()
        }
        guard let found = Subprocess.findExecutable(program, extraDirectories: buildFolders) else {
            let hint = program == "protoc-gen-swift"
                ? "build it: swift build --product protoc-gen-swift"
                : "install \(program) and put it on PATH"
            throw DevctlFailure("plugin \(program) was not found on PATH or in .build/{debug,release}", hint: hint, exitCode: 2)
        }
        return [found] + argv.dropFirst()
    }

    /// `swift build --product protoc-gen-swift` in the repository, when its package can build it.
    private func buildSwiftPlugin() async throws {
        let manifest = (try? String(contentsOfFile: repositoryRoot + "/Package.swift", encoding: .utf8)) ?? ""
        guard manifest.contains("swift-protobuf"), let swift = Subprocess.findExecutable("swift") else { return }
        progress("protoc-gen-swift is not built yet: building it now (swift build --product protoc-gen-swift; first use only, about a minute)")
        let clock = ContinuousClock()
        let start = clock.now
        let build = try await Subprocess(swift, ["build", "--product", "protoc-gen-swift"], workingDirectory: repositoryRoot).output()
        guard build.succeeded else {
            let tail = (build.stderr + build.stdout).split(separator: "\n").suffix(15).joined(separator: "\n")
            throw DevctlFailure("building protoc-gen-swift failed:\n\(tail)", hint: "run `swift build --product protoc-gen-swift` in \(repositoryRoot) to see the whole output")
        }
        progress("protoc-gen-swift built in \((clock.now - start).components.seconds) s")
    }

    /// Files under the plugins' out folders that devctl generated before (or that say
    /// "DO NOT EDIT") and that no plugin produces now.
    private func staleFiles(desired: [String: String], previous: GenerationCache?) -> [String] {
        let outs = config.plugins.map { normalizedOut($0) + "/" }
        // Only files under this template's out folders are ever candidates.
        var candidates = Set((previous?.outputs.keys.map { $0 } ?? []).filter { path in outs.contains { path.hasPrefix($0) } })
        for plugin in config.plugins {
            let out = normalizedOut(plugin)
            guard let enumerator = FileManager.default.enumerator(atPath: repositoryRoot + "/" + out) else { continue }
            while let relative = enumerator.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                if Self.untouchableFolders.contains(name) || name.hasPrefix(".") {
                    enumerator.skipDescendants()
                    continue
                }
                let path = out + "/" + relative
                if isMarkedGenerated(repositoryRoot + "/" + path) { candidates.insert(path) }
            }
        }
        return candidates.filter { desired[$0] == nil && FileManager.default.fileExists(atPath: repositoryRoot + "/" + $0) }.sorted()
    }

    private func isMarkedGenerated(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = String(decoding: (try? handle.read(upToCount: 1024)) ?? Data(), as: UTF8.self)
        return head.contains("DO NOT EDIT")
    }

    private func writeAtomically(_ content: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(content.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// SHA-256 over everything that decides the output: devctl, the config, every proto file and
    /// the identity (path, size, modification time) of protoc and each plugin program.
    private func cacheKey(inputs: [(directory: String, files: [String])], executables: [String], arguments: [[String]]) throws -> String {
        var hasher = SHA256()
        func add(_ text: String) { hasher.update(data: Data((text + "\u{0}").utf8)) }
        add(toolVersion)
        add(arguments.map { $0.joined(separator: " ") }.joined(separator: "\n"))
        add(String(decoding: FileManager.default.contents(atPath: repositoryRoot + "/" + configPath) ?? Data(), as: UTF8.self))
        add(config.inputs.joined(separator: ","))
        for input in inputs {
            for file in input.files {
                let path = input.directory + "/" + file
                add(path)
                hasher.update(data: FileManager.default.contents(atPath: repositoryRoot + "/" + path) ?? Data())
            }
        }
        for executable in executables {
            // The real file behind symlinks (npm shims, plugin links): its change must count.
            let resolved = URL(fileURLWithPath: executable).resolvingSymlinksInPath().path
            add(executable + "->" + resolved)
            let attributes = try? FileManager.default.attributesOfItem(atPath: resolved)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            add("\(executable):\(size):\(modified)")
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// What the last run produced, kept in `.devctl/gen/cache.json`.
struct GenerationCache: Codable {
    var key: String
    /// Repository-relative path → SHA-256 of the content written.
    var outputs: [String: String]

    static func digest(_ content: String) -> String {
        SHA256.hash(data: Data(content.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func load(from path: String) -> GenerationCache? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(GenerationCache.self, from: data)
    }

    func save(to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every recorded output still exists with the recorded content.
    func outputsIntact(root: String) -> Bool {
        outputs.allSatisfy { path, digest in
            guard let data = FileManager.default.contents(atPath: root + "/" + path) else { return false }
            return GenerationCache.digest(String(decoding: data, as: UTF8.self)) == digest
        }
    }
}
