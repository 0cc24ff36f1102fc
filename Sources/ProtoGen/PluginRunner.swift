import DevctlCore
import Foundation
import SwiftProtobuf
import SwiftProtobufPluginLibrary

/// A file a plugin produced, relative to its `out` folder.
struct GeneratedFile: Sendable, Equatable {
    var name: String
    var content: String
}

/// Runs one configured plugin over a set of descriptors through the protoc plugin protocol:
/// a CodeGeneratorRequest on stdin, a CodeGeneratorResponse on stdout.
struct PluginRunner: Sendable {
    /// The repository root: input directories are relative to it.
    let root: String
    let plugin: PluginConfig
    /// The resolved program and its arguments (for `local` plugins).
    let argv: [String]
    let protoc: ProtoCompiler
    let compilerVersion: (major: Int32, minor: Int32, patch: Int32)

    init(root: String, plugin: PluginConfig, argv: [String], protoc: ProtoCompiler, compilerVersion: (major: Int32, minor: Int32, patch: Int32)) {
        self.root = root
        self.plugin = plugin
        self.argv = argv
        self.protoc = protoc
        self.compilerVersion = compilerVersion
    }

    /// One input directory's parsed files.
    struct Input: Sendable {
        var directory: String
        /// Files of this input, as protoc names them.
        var files: [String]
        /// Their descriptors and their imports', dependencies first.
        var descriptors: [Google_Protobuf_FileDescriptorProto]
    }

    /// Every file the plugin produces for `inputs`.
    func run(_ inputs: [Input]) async throws -> [GeneratedFile] {
        var produced: [GeneratedFile] = []
        for input in inputs {
            for group in groups(input) {
                produced += try await generate(input: input, files: group)
            }
        }
        var seen = Set<String>()
        for file in produced where !seen.insert(file.name).inserted {
            throw DevctlFailure("\(plugin.displayName) produced \(file.name) twice", hint: "with strategy: directory, two directories must not map to one output; try strategy: all")
        }
        return produced
    }

    /// Files grouped into requests as `strategy` says.
    private func groups(_ input: Input) -> [[String]] {
        var files = input.files
        if plugin.includeImports {
            let own = Set(input.files)
            let imported = input.descriptors.map(\.name).filter { name in
                !own.contains(name) && (plugin.includeWellKnownTypes || !name.hasPrefix("google/protobuf/"))
            }
            files += imported
        }
        switch plugin.strategy {
        case .all:
            return files.isEmpty ? [] : [files]
        case .directory:
            var byDirectory: [String: [String]] = [:]
            for file in files { byDirectory[(file as NSString).deletingLastPathComponent, default: []].append(file) }
            return byDirectory.keys.sorted().compactMap { byDirectory[$0] }
        }
    }

    private func generate(input: Input, files: [String]) async throws -> [GeneratedFile] {
        switch plugin.source {
        case .protocBuiltin(let name):
            return try await runBuiltin(name, input: input, files: files)
        case .local(let configured) where ConnectSwiftGenerator.isBuiltIn(configured):
            let response = ConnectSwiftGenerator.respond(to: makeRequest(input: input, files: files))
            return try self.files(from: response)
        case .local(let configured) where ConnectTSGenerator.isBuiltIn(configured):
            let response = ConnectTSGenerator.respond(to: makeRequest(input: input, files: files))
            return try self.files(from: response)
        case .local:
            let request = makeRequest(input: input, files: files)
            let output = try await Subprocess(argv[0], Array(argv.dropFirst()), input: try request.serializedData()).output()
            guard output.succeeded else {
                throw DevctlFailure(
                    "plugin \(plugin.displayName) failed (exit \(output.status)) on \(files.joined(separator: ", ")):\n\(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines))",
                    hint: "run it by hand with the same request to debug: \(argv.joined(separator: " "))"
                )
            }
            let response: Google_Protobuf_Compiler_CodeGeneratorResponse
            do {
                response = try Google_Protobuf_Compiler_CodeGeneratorResponse(serializedBytes: Data(output.stdoutBytes))
            } catch {
                throw DevctlFailure("plugin \(plugin.displayName) wrote something that is not a CodeGeneratorResponse (\(output.stdoutBytes.count) bytes): \(error)",
                                    hint: "is \(argv[0]) really a protoc plugin?")
            }
            return try self.files(from: response)
        }
    }

    private func makeRequest(input: Input, files: [String]) -> Google_Protobuf_Compiler_CodeGeneratorRequest {
        var request = Google_Protobuf_Compiler_CodeGeneratorRequest()
        request.fileToGenerate = files
        request.parameter = plugin.options.joined(separator: ",")
        request.protoFile = input.descriptors
        request.sourceFileDescriptors = input.descriptors.filter { files.contains($0.name) }
        request.compilerVersion.major = compilerVersion.major
        request.compilerVersion.minor = compilerVersion.minor
        request.compilerVersion.patch = compilerVersion.patch
        return request
    }

    private func files(from response: Google_Protobuf_Compiler_CodeGeneratorResponse) throws -> [GeneratedFile] {
        if response.hasError {
            throw DevctlFailure("\(plugin.displayName): \(response.error)")
        }
        return try response.file.map { file in
            guard file.insertionPoint.isEmpty else {
                throw DevctlFailure("plugin \(plugin.displayName) uses an insertion point (\(file.name)@\(file.insertionPoint)); devctl gen does not support them")
            }
            guard RepositoryPath.problem(with: file.name) == nil else {
                throw DevctlFailure("plugin \(plugin.displayName) tried to write \(file.name), outside its out folder \(plugin.out); nothing was written")
            }
            return GeneratedFile(name: file.name, content: file.content)
        }
    }

    /// A generator built into protoc: protoc writes into a scratch folder that is read back.
    private func runBuiltin(_ name: String, input: Input, files: [String]) async throws -> [GeneratedFile] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-gen-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var arguments = ["-I", input.directory, "--\(name)_out=\(scratch)"]
        if !plugin.options.isEmpty { arguments.append("--\(name)_opt=\(plugin.options.joined(separator: ","))") }
        let result = try await Subprocess(protoc.protoc, arguments + files, workingDirectory: root).output()
        guard result.succeeded else {
            throw DevctlFailure("protoc_builtin \(name) failed:\n\(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        var produced: [GeneratedFile] = []
        let enumerator = FileManager.default.enumerator(atPath: scratch)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: scratch + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
                  let data = FileManager.default.contents(atPath: scratch + "/" + path) else { continue }
            produced.append(GeneratedFile(name: path, content: String(decoding: data, as: UTF8.self)))
        }
        return produced.sorted { $0.name < $1.name }
    }
}
