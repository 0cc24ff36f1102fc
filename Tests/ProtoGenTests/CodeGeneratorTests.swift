import DevctlCore
import Foundation
import ProtoGen
import Testing

/// `devctl gen` end to end with real protoc and real plugins, in a temp repository.
@Suite struct CodeGeneratorTests {
    /// protoc-gen-swift as built by this package (`swift build --product protoc-gen-swift`).
    static let protocGenSwift: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        return Subprocess.findExecutable("protoc-gen-swift", extraDirectories: [root + "/.build/debug", root + "/.build/release"])
    }()

    struct Repository {
        let root: String
        let log: String

        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        func read(_ path: String) -> String? {
            FileManager.default.contents(atPath: root + "/" + path).map { String(decoding: $0, as: UTF8.self) }
        }

        /// How many times the logging plugin wrapper has run.
        var pluginRuns: Int { (FileManager.default.contents(atPath: log)?.count ?? 0) }

        func generate(check: Bool = false) async throws -> GenerateReport {
            try await CodeGenerator(repositoryRoot: root, toolVersion: "test").run(check: check)
        }
    }

    /// Two protos, protoc-gen-swift behind a wrapper that counts its runs, and protoc's python.
    private func withRepository(_ body: (Repository) async throws -> Void) async throws {
        let plugin = try #require(Self.protocGenSwift, "protoc-gen-swift is not built: run `swift build --product protoc-gen-swift` (scripts/test.sh does)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-gen-\(UUID().uuidString.prefix(8))").path
        let repository = Repository(root: root, log: root + "/plugin-runs.log")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try repository.write("proto/shop/v1/shop.proto", """
            syntax = "proto3";
            package shop.v1;
            import "shop/v1/money.proto";
            message Item { string name = 1; Money price = 2; }
            """)
        try repository.write("proto/shop/v1/money.proto", """
            syntax = "proto3";
            package shop.v1;
            message Money { int64 cents = 1; }
            """)
        try repository.write("bin/counting-plugin", "#!/bin/sh\nprintf x >> '\(repository.log)'\nexec '\(plugin)' \"$@\"\n")
        chmod(root + "/bin/counting-plugin", 0o755)
        try repository.write("buf.gen.yaml", """
            version: v2
            clean: true
            inputs:
              - directory: proto
            plugins:
              - local: bin/counting-plugin
                out: gen/swift
                opt: Visibility=Public
              - protoc_builtin: python
                out: gen/python
            """)
        try await body(repository)
    }

    @Test func generatesWithEveryPluginThenOnlyWhatChanged() async throws {
        try await withRepository { repository in
            let first = try await repository.generate()
            #expect(!first.cached)
            #expect(first.plugins.map(\.written) == [
                ["gen/swift/shop/v1/money.pb.swift", "gen/swift/shop/v1/shop.pb.swift"],
                ["gen/python/shop/v1/money_pb2.py", "gen/python/shop/v1/shop_pb2.py"],
            ])
            #expect(repository.read("gen/swift/shop/v1/shop.pb.swift")?.contains(#/public (nonisolated )?struct Shop_V1_Item/#) == true, "\(repository.read("gen/swift/shop/v1/shop.pb.swift") ?? "")")
            // strategy: directory → one request for the one directory.
            #expect(repository.pluginRuns == 1)

            // Nothing changed: the cache answers and no plugin runs.
            let second = try await repository.generate()
            #expect(second.cached)
            #expect(repository.pluginRuns == 1)

            // One proto changes: plugins run, but the untouched file is not rewritten.
            let moneyPath = repository.root + "/gen/swift/shop/v1/money.pb.swift"
            let before = try FileManager.default.attributesOfItem(atPath: moneyPath)[.modificationDate] as? Date
            try repository.write("proto/shop/v1/shop.proto", """
                syntax = "proto3";
                package shop.v1;
                import "shop/v1/money.proto";
                message Item { string name = 1; Money price = 2; int32 stock = 3; }
                """)
            let third = try await repository.generate()
            #expect(third.plugins.first?.written == ["gen/swift/shop/v1/shop.pb.swift"])
            #expect(third.plugins.first?.unchanged == 1)
            let after = try FileManager.default.attributesOfItem(atPath: moneyPath)[.modificationDate] as? Date
            #expect(before == after)
        }
    }

    @Test func cleanRemovesOnlyFilesNoLongerGenerated() async throws {
        try await withRepository { repository in
            _ = try await repository.generate()
            try repository.write("gen/swift/shop/v1/Handwritten.swift", "// mine\n")
            try repository.write("proto/shop/v1/money.proto", """
                syntax = "proto3";
                package shop.v1;
                message Money { int64 cents = 1; }
                message Unused {}
                """)
            try FileManager.default.removeItem(atPath: repository.root + "/proto/shop/v1/shop.proto")
            let report = try await repository.generate()
            #expect(report.removed == ["gen/python/shop/v1/shop_pb2.py", "gen/swift/shop/v1/shop.pb.swift"])
            #expect(repository.read("gen/swift/shop/v1/Handwritten.swift") == "// mine\n")
            #expect(repository.read("gen/swift/shop/v1/money.pb.swift") != nil)
        }
    }

    @Test func cleanRefusesToWalkTheRepositoryRoot() async throws {
        try await withRepository { repository in
            try repository.write("buf.gen.yaml", """
                version: v2
                clean: true
                plugins:
                  - protoc_builtin: python
                    out: .
                """)
            try repository.write("elsewhere/keep.go", "// Code generated by hand. DO NOT EDIT.\n")
            let error = await #expect(throws: DevctlFailure.self) { try await repository.generate() }
            #expect(error?.message.contains("writes to the repository root") == true)
            #expect(repository.read("elsewhere/keep.go") != nil)
        }
    }

    @Test func checkListsDriftAndWritesNothing() async throws {
        try await withRepository { repository in
            _ = try await repository.generate()
            try repository.write("gen/swift/shop/v1/shop.pb.swift", "// edited by hand\n")
            let report = try await repository.generate(check: true)
            #expect(!report.upToDate)
            #expect(report.plugins.first?.written == ["gen/swift/shop/v1/shop.pb.swift"])
            #expect(repository.read("gen/swift/shop/v1/shop.pb.swift") == "// edited by hand\n")
        }
    }

    @Test func protoSyntaxErrorNamesFileLineAndColumn() async throws {
        try await withRepository { repository in
            try repository.write("proto/shop/v1/money.proto", "syntax = \"proto3\";\npackage shop.v1;\nmessage Money { int64 cents = 1 }\n")
            let error = await #expect(throws: DevctlFailure.self) { try await repository.generate() }
            #expect(error?.message.hasPrefix("proto/shop/v1/money.proto:3:") == true, "\(error?.message ?? "")")
            #expect(repository.read("gen/swift/shop/v1/shop.pb.swift") == nil)
        }
    }

    @Test func crashingOrGarbagePluginsWriteNothing() async throws {
        try await withRepository { repository in
            try repository.write("bin/counting-plugin", "#!/bin/sh\necho 'boom: internal error' >&2\nexit 3\n")
            chmod(repository.root + "/bin/counting-plugin", 0o755)
            let crash = await #expect(throws: DevctlFailure.self) { try await repository.generate() }
            #expect(crash?.message.contains("plugin counting-plugin failed (exit 3)") == true, "\(crash?.message ?? "nil")")
            #expect(crash?.message.contains("boom: internal error") == true)

            try repository.write("bin/counting-plugin", "#!/bin/sh\ncat > /dev/null\nprintf '\\377\\377\\377garbage'\n")
            chmod(repository.root + "/bin/counting-plugin", 0o755)
            let garbage = await #expect(throws: DevctlFailure.self) { try await repository.generate() }
            #expect(garbage?.message.contains("is not a CodeGeneratorResponse") == true)
            #expect(!FileManager.default.fileExists(atPath: repository.root + "/gen"))
        }
    }
}
