import DevctlCore
import Foundation
import ProtoGen
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import TestSupport
import Testing

/// The built-in connect-ts generator: its output against committed golden files
/// (`UPDATE_GOLDEN=connect-ts` rewrites them), `tsc --strict` over it and over the repository's
/// generated frontend code, and a Node test (node's own runner, the files bundled by esbuild)
/// that round-trips every kind of field through proto3 JSON. Needs Debian's node-typescript,
/// esbuild and nodejs (scripts/setup.sh installs them).
@Suite struct ConnectTSGeneratorTests {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
    static let golden = here + "/Golden"
    static let repositoryRoot = URL(fileURLWithPath: here).deletingLastPathComponent().deletingLastPathComponent().path

    static func makeFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-ts-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func request(_ files: [String]) async throws -> Google_Protobuf_Compiler_CodeGeneratorRequest {
        let descriptorSet = FileManager.default.temporaryDirectory.appendingPathComponent("golden-ts-\(UUID().uuidString).pb").path
        defer { try? FileManager.default.removeItem(atPath: descriptorSet) }
        let protoc = try #require(Subprocess.findExecutable("protoc"), "protoc is missing: apt-get install -y protobuf-compiler")
        let compiled = try await Subprocess(protoc, ["--include_imports", "--include_source_info", "--descriptor_set_out=\(descriptorSet)", "-I", "proto"] + files,
                                            workingDirectory: golden).output()
        #expect(compiled.status == 0, "\(compiled.stderr)")
        var request = Google_Protobuf_Compiler_CodeGeneratorRequest()
        request.fileToGenerate = files
        request.protoFile = try Google_Protobuf_FileDescriptorSet(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: descriptorSet))).file
        return request
    }

    /// The generated files for the golden protos, written under `folder`.
    static func generate(into folder: String) async throws -> [String] {
        let response = ConnectTSGenerator.respond(to: try await request(["library/v1/library.proto", "kinds/v1/kinds.proto"]))
        #expect(response.error.isEmpty, "\(response.error)")
        for file in response.file {
            let path = folder + "/" + file.name
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try file.content.write(toFile: path, atomically: true, encoding: .utf8)
        }
        return response.file.map(\.name)
    }

    @Test func outputMatchesTheReferenceByteForByte() async throws {
        let response = ConnectTSGenerator.respond(to: try await Self.request(["library/v1/library.proto", "kinds/v1/kinds.proto"]))
        #expect(response.error.isEmpty, "\(response.error)")
        #expect(response.file.map(\.name).sorted() == [
            "connect_react.ts", "connect_runtime.ts",
            "kinds/v1/kinds-KindsService_connectquery.ts", "kinds/v1/kinds_connect.ts", "kinds/v1/kinds_pb.ts",
            "library/v1/library-AuditService_connectquery.ts", "library/v1/library-LibraryService_connectquery.ts",
            "library/v1/library_connect.ts", "library/v1/library_pb.ts",
        ])
        for file in response.file {
            try Golden.check(file.content, against: Self.golden + "/connect-ts/" + file.name, group: "connect-ts")
        }
    }

    @Test func optionsAreRefused() async throws {
        var request = try await Self.request(["library/v1/library.proto"])
        request.parameter = "target=js"
        #expect(ConnectTSGenerator.respond(to: request).error == "connect-ts takes no options, got \"target=js\"")
    }

    static func tsconfig(including patterns: [String], in folder: String) throws -> String {
        let config: [String: Any] = [
            "compilerOptions": [
                "strict": true, "noEmit": true, "target": "ES2020", "module": "ES2020", "moduleResolution": "node",
                "lib": ["ES2020", "DOM", "DOM.Iterable"], "isolatedModules": true, "skipLibCheck": true,
                // Debian's node-react ships its types here (no npm).
                "typeRoots": ["/usr/share/nodejs/@types"], "types": [], "baseUrl": ".",
                "paths": ["react": ["/usr/share/nodejs/@types/react/index.d.ts"]],
            ],
            "include": patterns,
        ]
        let path = folder + "/tsconfig.json"
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func typeCheck(_ patterns: [String]) async throws -> Subprocess.Output {
        let tsc = try #require(Subprocess.findExecutable("tsc"), "tsc is missing: apt-get install -y node-typescript (scripts/setup.sh does)")
        let folder = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await Subprocess(tsc, ["-p", try tsconfig(including: patterns, in: folder)], workingDirectory: folder).output()
    }

    @Test func theOutputTypeChecksStrict() async throws {
        let folder = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try await Self.generate(into: folder)
        let checked = try await Self.typeCheck([folder + "/**/*.ts"])
        #expect(checked.status == 0, "tsc --strict:\n\(checked.stdout)\(checked.stderr)")
    }

    @Test func theFrontendsGeneratedCodeTypeChecksStrict() async throws {
        let checked = try await Self.typeCheck([Self.repositoryRoot + "/frontend/src/gen/**/*.ts"])
        #expect(checked.status == 0, "tsc --strict:\n\(checked.stdout)\(checked.stderr)")
    }

    @Test func everyKindOfFieldRoundTripsThroughJSONInNode() async throws {
        let folder = try Self.makeFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try await Self.generate(into: folder + "/gen")
        try FileManager.default.copyItem(atPath: Self.here + "/Node/roundtrip.test.ts", toPath: folder + "/roundtrip.test.ts")
        let esbuild = try #require(Subprocess.findExecutable("esbuild"), "esbuild is missing: apt-get install -y esbuild (scripts/setup.sh does)")
        let node = try #require(Subprocess.findExecutable("node"), "node is missing: apt-get install -y nodejs")
        let bundled = try await Subprocess(esbuild, ["roundtrip.test.ts", "--bundle", "--platform=node", "--format=esm", "--outfile=roundtrip.test.mjs", "--log-level=warning"],
                                           workingDirectory: folder).output()
        #expect(bundled.status == 0, "esbuild:\n\(bundled.stderr)")
        let run = try await Subprocess(node, ["--test", "roundtrip.test.mjs"], workingDirectory: folder).output()
        #expect(run.status == 0, "node --test:\n\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("# fail 0") && !run.stdout.contains("# pass 0"), "\(run.stdout)")
    }
}

/// The frontend's own code (React, the generated clients) type-checks under its tsconfig.
@Suite struct FrontendTypeCheckTests {
    @Test func theFrontendTypeChecksStrict() async throws {
        let tsc = try #require(Subprocess.findExecutable("tsc"), "tsc is missing: apt-get install -y node-typescript (scripts/setup.sh does)")
        let checked = try await Subprocess(tsc, ["-p", ConnectTSGeneratorTests.repositoryRoot + "/frontend/tsconfig.json"]).output()
        #expect(checked.status == 0, "tsc -p frontend:\n\(checked.stdout)\(checked.stderr)")
    }
}
