import DevctlCore
import Protos
import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test func versionAndHelpExitZero() async throws {
        let version = try await DevctlProcess.run(["--version"], in: "/")
        #expect(version.status == 0)
        #expect(version.stdout.wholeMatch(of: /\d+\.\d+\.\d+\n/) != nil)
        let help = try await DevctlProcess.run(["db", "--help"], in: "/")
        #expect(help.status == 0)
        #expect(help.stdout.contains("SUBCOMMANDS"))
        #expect(help.stdout.contains("migrate"))
    }

    @Test func completionScriptIsGenerated() async throws {
        let output = try await DevctlProcess.run(["--generate-completion-script", "bash"], in: "/")
        #expect(output.status == 0)
        #expect(output.stdout.contains("_devctl"))
    }

    @Test func badUsageExitsTwo() async throws {
        let output = try await DevctlProcess.run(["db", "frobnicate"], in: "/")
        #expect(output.status == 2)
        #expect(output.stderr.contains("error:"))
    }

    @Test func invalidConfigurationExitsTwoWithItsLocation() async throws {
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        try "services:\n  greeter:\n    kind: rpc\n    port: eighty\n".write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        let output = try await DevctlProcess.run(["db", "status", "--json"], in: root)
        #expect(output.status == 2)
        #expect(output.stderr.contains(#"devctl.yaml:4: services.greeter.port: expected an integer, got "eighty""#))
        let error = try #require(DevctlProcess.json(output)["error"] as? [String: Any])
        #expect(error["exitCode"] as? Int == 2)
    }

    @Test func serveRefusesBadConfigurationAndUnknownServices() async throws {
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        let cases: [([String], [String: String], String)] = [
            // No signing key in the code: without one (or with an empty one) auth does not start.
            (["serve", "auth"], [:], "auth: JWT_SECRET is not set (or empty); it has no built-in value"),
            (["serve", "auth", "--no-config"], ["JWT_SECRET": "", "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/auth_db"], "auth: JWT_SECRET is not set (or empty)"),
            (["serve", "greeter"], ["DATABASE_URL": ""], "greeter: DATABASE_URL is not set (or empty); it has no built-in value"),
            (["serve", "auth"], ["JWT_SECRET": "short"], "auth: JWT_SECRET is 5 bytes; HS256 needs at least 32"),
            (["serve", "greeter"], ["CALLER_BASE_URL": "not a url"], #"greeter: CALLER_BASE_URL "not a url" is not an http(s) URL"#),
            (["serve", "gateway"], ["CUSTOM_LANG_BASE_URL": "ftp://x"], #"gateway: CUSTOM_LANG_BASE_URL "ftp://x" is not an http(s) URL"#),
            (["serve", "caller"], ["CALLER_MAX_BODY_BYTES": "-1"], "caller: CALLER_MAX_BODY_BYTES"),
            (["serve", "custom-lang"], ["PORT": "80a"], #"custom-lang: PORT "80a" is not a port number"#),
            (["serve", "billing"], [:], #"unknown service "billing""#),
        ]
        for (arguments, environment, message) in cases {
            // A database URL unless the case is about it (no server needed: nothing connects).
            let environment = ["DATABASE_URL": "postgresql://u:p@127.0.0.1:1/db", "JWT_SECRET": ""].merging(environment) { $1 }
            let output = try await DevctlProcess.run(arguments, in: root, environment: environment)
            #expect(output.status == 2, "\(arguments)")
            #expect(output.stderr.contains(message), "\(output.stderr)")
        }
    }

    @Test func missingConfigurationSaysWhereItLooked() async throws {
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        let output = try await DevctlProcess.run(["db", "status"], in: root)
        #expect(output.status == 2)
        #expect(output.stderr.contains("no devctl.yaml in \(root)"))
    }

    @Test func resetRefusesWithoutYes() async throws {
        let output = try await DevctlProcess.run(["db", "reset", "greeter"], in: repositoryRoot)
        #expect(output.status == 2)
        #expect(output.stderr.contains("refusing without --yes"))
    }
}

/// The repository holding this test file.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

enum TemporaryFolder {
    static func make() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-cli-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite struct GenerateCommandTests {
    @Test func committedGeneratedCodeIsUpToDate() async throws {
        let output = try await DevctlProcess.run(["gen", "--check", "--json"], in: repositoryRoot)
        #expect(output.status == 0, "devctl gen --check: \(output.stdout)\n\(output.stderr)")
        let report = try DevctlProcess.json(output)
        #expect(report["check"] as? Bool == true)
    }

    /// Checked in a clone of HEAD: the developer's own git index (whatever is staged right now)
    /// must not decide the outcome.
    @Test func committedManifestsAreUpToDate() async throws {
        let clone = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(clone) }
        let git = try #require(Subprocess.findExecutable("git"))
        try await Subprocess(git, ["clone", "-q", repositoryRoot, clone + "/repo"]).run()
        for environment in ["local", "prod"] {
            let output = try await DevctlProcess.run(["manifests", "--env", environment, "--check", "--json"], in: clone + "/repo")
            #expect(output.status == 0, "devctl manifests --env \(environment) --check: \(output.stdout)\n\(output.stderr)")
        }
    }

    @Test func generatedMessagesRoundTrip() throws {
        var request = Greeter_V1_GreetRequest()
        request.name = "Ada"
        let decoded = try Greeter_V1_GreetRequest(serializedBytes: try request.serializedBytes() as [UInt8])
        #expect(decoded.name == "Ada")
        #expect(try request.jsonString() == #"{"name":"Ada"}"#)
    }
}

/// What every verb owes a script and a person: JSON errors with --json, colour only on a terminal
/// without NO_COLOR, the shell's variables over devctl.yaml's.
@Suite struct CommandLineContractTests {
    @Test(arguments: [
        ["up", "-d"], ["down"], ["status"], ["logs"], ["db", "status"], ["db", "migrate"], ["gen"],
        ["manifests"], ["new", "service", "billing"], ["serve", "nope"],
    ])
    func everyVerbReportsErrorsAsJSON(arguments: [String]) async throws {
        // An empty folder: no devctl.yaml, no buf.gen.yaml, not a git repository.
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        let output = try await DevctlProcess.run(arguments + ["--json"], in: root)
        #expect(output.status == 2 || output.status == 1, "\(arguments): \(output.status)")
        let error = try #require(try DevctlProcess.json(output)["error"] as? [String: Any], "\(arguments): \(output.stdout)")
        #expect(error["message"] as? String != nil)
        #expect(error["exitCode"] as? Int == Int(output.status))
    }

    /// Runs devctl under a pseudo-terminal (util-linux `script`); its combined output.
    static func onATerminal(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> String {
        let script = try #require(Subprocess.findExecutable("script"), "script (util-linux) is missing")
        let command = ([DevctlProcess.executable] + arguments).map { "'\($0)'" }.joined(separator: " ")
        var process = Subprocess(script, ["-qec", command, "/dev/null"], environment: DevctlProcess.cleanEnvironment(environment), workingDirectory: directory)
        process.inheritsEnvironment = false
        return try await process.output().stdout
    }

    @Test func colourOnlyOnATerminalAndNeverWithNoColor() async throws {
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        let red = "\u{1B}[31merror: "
        #expect(try await Self.onATerminal(["serve", "nope"], in: root, environment: ["NO_COLOR": ""]).contains(red))
        #expect(!(try await Self.onATerminal(["serve", "nope"], in: root, environment: ["NO_COLOR": "1"]).contains("\u{1B}[")))
        let piped = try await DevctlProcess.run(["serve", "nope"], in: root, environment: ["NO_COLOR": ""])
        #expect(piped.stderr.hasPrefix("error: "), "\(piped.stderr)")
        #expect(!piped.stderr.contains("\u{1B}["))
    }

    @Test func theShellsVariablesBeatDevctlYAML() async throws {
        let root = try TemporaryFolder.make()
        defer { TemporaryFolder.remove(root) }
        try FileManager.default.copyItem(atPath: repositoryRoot + "/devctl.yaml", toPath: root + "/devctl.yaml")
        // devctl.yaml's CALLER_BASE_URL is valid; the shell's is not, and it is the one used.
        let output = try await DevctlProcess.run(["serve", "greeter"], in: root, environment: ["CALLER_BASE_URL": "ftp://from-the-shell"])
        #expect(output.status == 2)
        #expect(output.stderr.contains(#"CALLER_BASE_URL "ftp://from-the-shell""#), "\(output.stderr)")
    }
}
