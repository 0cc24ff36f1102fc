import DevctlCore
import Foundation
import GeneratedGoldens
import ProtoGen
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import TestSupport
import Testing

/// The built-in connect-swift generator against committed reference output (golden files in
/// Tests/GeneratedGoldens, which the `GeneratedGoldens` target compiles with the tests).
/// `UPDATE_GOLDEN=connect-swift` rewrites the reference after an intended change.
@Suite struct ConnectSwiftGeneratorTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden").path
    static let compiledGoldens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("GeneratedGoldens").path

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
        try Golden.check(file.content, against: Self.compiledGoldens + "/library.connect.swift", group: "connect-swift")
    }

    /// The reference is compiled (the GeneratedGoldens target): its API is what callers use.
    @Test func theReferenceCompilesToTheProceduresItNames() {
        #expect(Library_V1_LibraryServiceProcedures.getBook == "/library.v1.LibraryService/GetBook")
        #expect(Library_V1_LibraryServiceProcedures.`return` == "/library.v1.LibraryService/Return")
        #expect(Library_V1_AuditServiceProcedures.record == "/library.v1.AuditService/Record")
        #expect(Library_V1_LibraryServiceProcedures.watchBooks == "/library.v1.LibraryService/WatchBooks")
        #expect(Library_V1_LibraryServiceProcedures.donateBooks == "/library.v1.LibraryService/DonateBooks")
        #expect(Library_V1_LibraryServiceProcedures.discuss == "/library.v1.LibraryService/Discuss")
    }

    @Test func badOptionsAreReported() async throws {
        let response = ConnectSwiftGenerator.respond(to: try await request("library/v1/library.proto", parameter: "Visibility=Secret"))
        #expect(response.error == "Visibility must be Public, Internal or Package, got Secret")
    }
}
