import DevctlCore
import Foundation
import SwiftProtobuf

/// Drives `protoc` to parse .proto files into descriptors (protoc does the parsing; plugins are
/// run by devctl itself, see ``PluginRunner``).
struct ProtoCompiler {
    let protoc: String

    /// Finds `protoc` on PATH.
    static func locate() throws -> ProtoCompiler {
        guard let path = Subprocess.findExecutable("protoc") else {
            throw DevctlFailure("protoc was not found on PATH", hint: "install it: apt-get install -y protobuf-compiler")
        }
        return ProtoCompiler(protoc: path)
    }

    /// `protoc --version` as a plugin request's compiler version.
    func version() async throws -> (major: Int32, minor: Int32, patch: Int32) {
        let output = try await Subprocess(protoc, ["--version"]).run().stdout
        let numbers = output.split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
        return (numbers.first ?? 0, numbers.dropFirst().first ?? 0, numbers.dropFirst(2).first ?? 0)
    }

    /// Every .proto file under `directory` (relative to it, sorted), as protoc names them.
    static func protoFiles(in root: String, directory: String) throws -> [String] {
        let base = URL(fileURLWithPath: root).appendingPathComponent(directory).standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(atPath: base) else {
            throw DevctlFailure("input directory \(directory) does not exist", hint: "fix inputs in buf.gen.yaml (or modules in buf.yaml)", exitCode: 2)
        }
        var files: [String] = []
        while let path = enumerator.nextObject() as? String {
            if path.hasSuffix(".proto") { files.append(path) }
        }
        return files.sorted()
    }

    /// Parses the files of one input directory (with their imports and source info).
    func compile(root: String, directory: String, files: [String]) async throws -> [Google_Protobuf_FileDescriptorProto] {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-gen-\(UUID().uuidString).pb").path
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let result = try await Subprocess(protoc, [
            "--include_imports", "--include_source_info", "--descriptor_set_out=\(temporary)", "-I", directory,
        ] + files, workingDirectory: root).output()
        guard result.succeeded else {
            // protoc names files relative to the include directory; name them from the repository root.
            let prefix = directory == "." ? "" : directory.hasSuffix("/") ? directory : directory + "/"
            let lines = result.stderr.split(separator: "\n").map { line -> String in
                files.contains(where: { line.hasPrefix($0 + ":") }) ? prefix + line : String(line)
            }
            throw DevctlFailure(lines.joined(separator: "\n"), hint: "fix the .proto file and run `devctl gen` again")
        }
        guard let data = FileManager.default.contents(atPath: temporary) else {
            throw DevctlFailure("protoc wrote no descriptor set to \(temporary)")
        }
        return try Google_Protobuf_FileDescriptorSet(serializedBytes: data).file
    }
}
