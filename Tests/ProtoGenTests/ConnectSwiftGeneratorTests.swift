import DevctlCore
import Foundation
import ProtoGen
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

/// The built-in connect-swift generator against committed reference output (golden files).
/// Set UPDATE_GOLDEN=1 to rewrite the references after an intended change, then review the diff.
@Suite struct ConnectSwiftGeneratorTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path

    /// A plugin request for `file` (under Golden/proto), built from protoc's descriptors.
    private func request(_ file: String, parameter: String) async throws -> Google_Protobuf_Compiler_CodeGeneratorRequest {
        let descriptorSet = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString).pb").path
        defer { try? FileManager.default.removeItem(atPath: descriptorSet) }
        let protoc = try #require(Subprocess.findExecutable("protoc"), "protoc is missing: apt-get install -y protobuf-compiler")
        try await Subprocess(protoc, ["--include_imports", "--include_source_info", "--descriptor_set_out=\(descriptorSet)", "-I", "proto", file],
                             workingDirectory: Self.golden).run()
        var request = Google_Protobuf_Compiler_CodeGeneratorRequest()
        request.fileToGenerate = [file]
        request.parameter = parameter
        request.protoFile = try Google_Protobuf_FileDescriptorSet(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: descriptorSet))).file
        return request
    }

    @Test func outputMatchesTheReferenceByteForByte() async throws {
        let response = ConnectSwiftGenerator.respond(to: try await request("library/v1/library.proto", parameter: "Visibility=Public"))
        #expect(response.error.isEmpty, "\(response.error)")
        let file = try #require(response.file.first)
        #expect(file.name == "library/v1/library.connect.swift")
        let referencePath = Self.golden + "/library.connect.swift.golden"
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try file.content.write(toFile: referencePath, atomically: true, encoding: .utf8)
        }
        let reference = try String(contentsOfFile: referencePath, encoding: .utf8)
        #expect(file.content == reference, "generated output differs from \(referencePath); rerun with UPDATE_GOLDEN=1 if intended")
    }

    @Test func streamingRPCsAreRefusedByName() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("golden-stream-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory + "/proto/chat/v1", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try """
            syntax = "proto3";
            package chat.v1;
            message Line { string text = 1; }
            service ChatService { rpc Talk(stream Line) returns (stream Line); }
            """.write(toFile: directory + "/proto/chat/v1/chat.proto", atomically: true, encoding: .utf8)
        let descriptorSet = directory + "/set.pb"
        try await Subprocess("/usr/bin/env", ["protoc", "--include_source_info", "--descriptor_set_out=\(descriptorSet)", "-I", "proto", "chat/v1/chat.proto"],
                             workingDirectory: directory).run()
        var request = Google_Protobuf_Compiler_CodeGeneratorRequest()
        request.fileToGenerate = ["chat/v1/chat.proto"]
        request.protoFile = try Google_Protobuf_FileDescriptorSet(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: descriptorSet))).file
        let response = ConnectSwiftGenerator.respond(to: request)
        #expect(response.error == "chat/v1/chat.proto: chat.v1.ChatService.Talk is a streaming RPC; connect-swift generates unary RPCs only")
        #expect(response.file.isEmpty)
    }

    @Test func badOptionsAreReported() async throws {
        let response = ConnectSwiftGenerator.respond(to: try await request("library/v1/library.proto", parameter: "Visibility=Secret"))
        #expect(response.error == "Visibility must be Public, Internal or Package, got Secret")
    }
}
