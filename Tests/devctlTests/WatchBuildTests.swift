import DevctlCore
import Foundation
import Testing
import TestSupport

/// `up --watch` with the real `swift build` in a temp copy of this repository: greeter's message
/// edited → only greeter restarts and the new message is served; a compile error → the old
/// greeter keeps answering and the error (file:line) is in `status --json` and the dashboard's
/// API; fixed → served again. The copy's first build compiles everything (minutes), so it runs at
/// the lowest CPU priority beside the other tests.
@Suite struct WatchBuildTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let source = "Sources/Services/Greeter/GreeterService.swift"
    static let messageLine = #"let message = "Hello \(name)!""#

    /// The repository's tracked files (not its devctl.yaml: the fixture's has its own ports),
    /// built once.
    static func copyAndBuild(into root: String) async throws {
        let files = try await Subprocess("/usr/bin/git", ["ls-files", "-z"], workingDirectory: repositoryRoot).output()
        #expect(files.status == 0, "\(files.stderr)")
        for path in files.stdout.split(separator: "\0").map(String.init) where path != "devctl.yaml" {
            let target = root + "/" + path
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: repositoryRoot + "/" + path, toPath: target)
        }
        let swift = try #require(Subprocess.findExecutable("swift"), "swift is not on PATH")
        let build = try await Subprocess("/usr/bin/nice", ["-n", "19", swift, "build", "--product", "devctl"], workingDirectory: root).output()
        #expect(build.status == 0, "the copy does not build:\n\(build.stdout.suffix(3000))\n\(build.stderr.suffix(3000))")
    }

    static func greet(_ port: Int) async -> String? {
        let reply = try? await Subprocess("/usr/bin/curl", ["-s", "-m", "5", "-H", "content-type: application/json", "-d", #"{"name":"e2e"}"#,
                                                             "http://127.0.0.1:\(port)/greeter.v1.GreeterService/Greet"]).output()
        return reply?.stdout
    }

    @Test func aRealBuildRestartsOnlyGreeterAndABrokenOneKeepsItServing() async throws {
        try await StackFixture.withStarted(["--watch"], prepare: { fixture in
            try await Self.copyAndBuild(into: fixture.root)
        }) { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let file = fixture.root + "/" + Self.source
            let original = try String(contentsOfFile: file, encoding: .utf8)
            try #require(original.contains(Self.messageLine))
            let greeterPort = fixture.port(8080)
            #expect(await Self.greet(greeterPort)?.contains("Hello e2e!") == true)
            let before = try await WatchTests.pids(fixture)
            try await Task.sleep(for: .seconds(1))

            // 1. A new message: built, greeter alone restarted, the new text served.
            try original.replacingOccurrences(of: Self.messageLine, with: #"let message = "Howdy \(name)!""#).write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await eventually(.seconds(600), every: .milliseconds(500)) { await Self.greet(greeterPort)?.contains("Howdy e2e!") == true },
                    "the new message was never served")
            let after = try await WatchTests.pids(fixture)
            #expect(after["greeter"] != before["greeter"])
            for (name, pid) in before where name != "greeter" { #expect(after[name] == pid, "\(name) restarted too") }

            // 2. A compile error: nothing restarts, the old greeter answers, the error is shown.
            let brokenLine = original.components(separatedBy: "\n").firstIndex { $0.contains(Self.messageLine) }.map { $0 + 1 } ?? 0
            try original.replacingOccurrences(of: Self.messageLine, with: #"let message: Int = "Howdy \(name)!""#).write(toFile: file, atomically: true, encoding: .utf8)
            var build: [String: Any] = [:]
            #expect(await eventually(.seconds(600), every: .milliseconds(500)) {
                build = (try? await WatchTests.build(fixture)) ?? [:]
                return build["phase"] as? String == "failed"
            }, "\(build)")
            let errors = build["errors"] as? [String] ?? []
            #expect(errors.contains { $0.hasPrefix("\(Self.source):\(brokenLine):") && $0.contains("error:") }, "\(errors)")
            #expect(await Self.greet(greeterPort)?.contains("Howdy e2e!") == true, "the old greeter stopped answering")
            #expect(try await WatchTests.pids(fixture)["greeter"] == after["greeter"])
            let dashboard = try await DashboardTests.dashboardURL(fixture)
            let state = try await DashboardTests.send(.GET, dashboard + "/api/v1/state")
            #expect(state.body.contains("GreeterService.swift:\(brokenLine):"), "the API does not show the error")

            // 3. Fixed: served again.
            try original.replacingOccurrences(of: Self.messageLine, with: #"let message = "Hi again \(name)!""#).write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await eventually(.seconds(600), every: .milliseconds(500)) { await Self.greet(greeterPort)?.contains("Hi again e2e!") == true },
                    "the fix was never served")
            #expect(try await WatchTests.build(fixture)["phase"] as? String == "succeeded")
        }
    }
}
