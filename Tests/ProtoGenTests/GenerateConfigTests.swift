import DevctlCore
import ProtoGen
import Testing
import YAMLSupport

@Suite struct GenerateConfigTests {
    @Test func readsBufV2PluginEntries() throws {
        let config = try GenerateConfig.parse(yaml: """
            version: v2
            clean: true
            inputs:
              - directory: proto
            plugins:
              - local: protoc-gen-swift
                out: gen/swift
                opt: Visibility=Public
              - local: [devctl, protoc-plugin, connect-swift]
                out: gen/connect
                opt: [a=1, b=2]
                strategy: all
              - protoc_builtin: python
                out: gen/python
                include_imports: true
                include_wkt: true
            """)
        #expect(config.clean)
        #expect(config.inputs == ["proto"])
        #expect(config.plugins == [
            PluginConfig(source: .local(["protoc-gen-swift"]), out: "gen/swift", options: ["Visibility=Public"]),
            PluginConfig(source: .local(["devctl", "protoc-plugin", "connect-swift"]), out: "gen/connect", options: ["a=1", "b=2"], strategy: .all),
            PluginConfig(source: .protocBuiltin("python"), out: "gen/python", includeImports: true, includeWellKnownTypes: true),
        ])
    }

    @Test func remotePluginsAndEscapingPathsAreRefusedWithLines() {
        let messages = problems("""
            version: v2
            plugins:
              - remote: buf.build/protocolbuffers/go:v1.34.0
                out: gen
              - local: protoc-gen-swift
                out: ../../etc
            """)
        #expect(messages == [
            "buf.gen.yaml:3: plugins[0].remote: remote plugins need the network (BSR); install the plugin locally and use `local:` instead (e.g. `local: protoc-gen-go` on PATH)",
            #"buf.gen.yaml:6: plugins[1].out: "../../etc" leaves the repository; use a path inside it"#,
        ])
    }

    @Test func inputFiltersAreRefusedRatherThanIgnored() {
        let found = problems("version: v2\ninputs:\n  - directory: proto\n    paths: [proto/a]\nplugins:\n  - local: x\n    out: y\n")
        #expect(found == ["buf.gen.yaml:4: inputs[0].paths: 'paths' is not supported by devctl gen yet; split the protos into their own input directory"])
    }

    @Test func versionAndManagedModeAreChecked() {
        #expect(problems("version: v1\nplugins:\n  - local: x\n    out: y\n") == [#"buf.gen.yaml:1: version: devctl reads buf.gen.yaml version v2, got "v1""#])
        #expect(problems("version: v2\nmanaged:\n  enabled: true\nplugins:\n  - local: x\n    out: y\n").first?.contains("managed mode is not supported") == true)
        #expect(problems("version: v2\nplugins: []\n") == ["buf.gen.yaml:1: no plugins: nothing to generate"])
    }

    private func problems(_ yaml: String) -> [String] {
        do {
            _ = try GenerateConfig.parse(yaml: yaml)
            return []
        } catch let error as ConfigFileError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["unexpected: \(error)"]
        }
    }
}
