import DevctlCore
import Foundation
import ProtoGen
import Testing

/// `buf generate` (PyPI's buf-bin) as the reference: for the repository's buf.gen.yaml and the
/// same local plugins, `devctl gen` must write a byte-identical tree.
@Suite struct BufPeerTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private func copyInputs(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for item in ["proto", "buf.yaml", "buf.gen.yaml", "devctl.yaml", "scripts/plugins"] {
            try FileManager.default.createDirectory(atPath: (directory + "/" + item as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.repositoryRoot + "/" + item, toPath: directory + "/" + item)
        }
        // The launchers run what this package built (as they would in the repository itself).
        try FileManager.default.createSymbolicLink(atPath: directory + "/.build", withDestinationPath: Self.repositoryRoot + "/.build")
    }

    private func tree(_ directory: String) -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            guard !path.hasPrefix("proto/"), !path.hasPrefix(".devctl"), !path.hasPrefix("scripts"), !path.hasPrefix(".build"),
                  !["buf.yaml", "buf.gen.yaml", "devctl.yaml"].contains(path) else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = FileManager.default.contents(atPath: directory + "/" + path)
            }
        }
        return files
    }

    @Test func devctlGenAndBufGenerateWriteIdenticalTrees() async throws {
        let buf = try #require(Subprocess.findExecutable("buf"), "buf is missing: pip install buf-bin (scripts/setup.sh does)")
        let build = Self.repositoryRoot + "/.build/debug"
        let devctl = build + "/devctl"
        #expect(FileManager.default.isExecutableFile(atPath: devctl), "build devctl first: swift build")
        #expect(FileManager.default.isExecutableFile(atPath: build + "/protoc-gen-swift"), "build it first: swift build --product protoc-gen-swift")

        let base = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-bufpeer-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let ours = base + "/devctl", theirs = base + "/buf"
        try copyInputs(to: ours)
        try copyInputs(to: theirs)
        // No symlinks or PATH entries made by hand: buf.gen.yaml's launchers find the plugins,
        // as they do for a user who runs `buf generate` after the README's set-up.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let generated = try await Subprocess(devctl, ["gen"], environment: ["PATH": path], workingDirectory: ours).output()
        #expect(generated.status == 0, "devctl gen: \(generated.stderr)")
        let result = try await Subprocess(buf, ["generate"], environment: ["PATH": path, "BUF_CACHE_DIR": base + "/buf-cache"], workingDirectory: theirs).output()
        #expect(result.status == 0, "buf generate: \(result.stderr)")

        let ourTree = tree(ours), theirTree = tree(theirs)
        #expect(ourTree.keys.sorted() == theirTree.keys.sorted())
        // Messages for every proto file in proto/, handlers/clients for those with services
        // (the OTLP messages devctl's trace receiver reads have none).
        let protoFiles = FileManager.default.enumerator(atPath: Self.repositoryRoot + "/proto")?.compactMap { $0 as? String }.filter { $0.hasSuffix(".proto") } ?? []
        let withServices = protoFiles.filter { file in
            ((try? String(contentsOfFile: Self.repositoryRoot + "/proto/" + file, encoding: .utf8)) ?? "").contains("\nservice ")
        }
        let swift = ourTree.keys.filter { $0.hasPrefix("Sources/") }, typescript = ourTree.keys.filter { $0.hasPrefix("frontend/src/gen/") }
        #expect(swift.count == protoFiles.count + withServices.count && !withServices.isEmpty, "\(swift.sorted())")
        // TypeScript: messages per file; per service file a client and (one service each) its
        // hooks; the runtime and its React glue once.
        #expect(typescript.count == protoFiles.count + 2 * withServices.count + 2, "\(typescript.sorted())")
        #expect(swift.count + typescript.count == ourTree.count, "\(ourTree.keys.sorted())")
        for (path, content) in theirTree {
            #expect(ourTree[path] == content, "\(path) differs")
        }
    }
}
