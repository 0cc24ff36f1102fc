import DevctlCore
import Foundation
import Testing
import TestSupport

/// `up --watch` with a fast fake build (`DEVCTL_WATCH_BUILD`; it "builds" the devctl under test):
/// only the service a change concerns restarts; a failed build changes nothing that runs and its
/// error (file:line:col, once) is in `status --json` until a build succeeds.
@Suite struct WatchTests {
    static func pids(_ fixture: StackFixture) async throws -> [String: Int] {
        let status = try DevctlProcess.json(await fixture.devctl(["status", "--json"]))
        var pids: [String: Int] = [:]
        for process in status["processes"] as? [[String: Any]] ?? [] {
            if let name = process["name"] as? String, let pid = process["pid"] as? Int { pids[name] = pid }
        }
        return pids
    }

    static func build(_ fixture: StackFixture) async throws -> [String: Any] {
        try DevctlProcess.json(await fixture.devctl(["status", "--json"]))["build"] as? [String: Any] ?? [:]
    }

    @Test func aChangeRestartsOnlyItsServiceAndABrokenBuildChangesNothing() async throws {
        let source = "Sources/Services/Greeter/GreeterService.swift"
        // Fails, like swift build (each error twice), while the source says BROKEN.
        let fakeBuild = """
            if grep -q BROKEN \(source); then echo "$PWD/\(source):3:5: error: cannot find 'BROKEN' in scope"; \
            echo "$PWD/\(source):3:5: error: cannot find 'BROKEN' in scope"; exit 1; fi; exit 0
            """
        let environment = ["DEVCTL_WATCH_BUILD": fakeBuild, "DEVCTL_WATCH_BINARY": DevctlProcess.executable]
        try await StackFixture.withStarted(["--watch"], environment: environment, prepare: { fixture in
            try "struct Greeter {}\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        }) { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            try await scenario(fixture, source: source)
        }
    }

    private func scenario(_ fixture: StackFixture, source: String) async throws {
        let before = try await Self.pids(fixture)
        #expect(before["greeter"] != nil && before["caller"] != nil, "\(before)")
        // The watcher starts after the stack is ready; give it a moment to add its watches.
        try await Task.sleep(for: .milliseconds(500))

        try "struct Greeter { let version = 2 }\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        var after: [String: Int] = [:]
        #expect(await eventually(.seconds(60)) {
            after = (try? await Self.pids(fixture)) ?? [:]
            return after["greeter"] != nil && after["greeter"] != before["greeter"]
        }, "greeter was not restarted: \(after)")
        for (name, pid) in before where name != "greeter" { #expect(after[name] == pid, "\(name) restarted too") }
        #expect(await eventually(.seconds(30)) { (try? await Self.build(fixture)["phase"] as? String) == "succeeded" })
        #expect(try await Self.build(fixture)["restarted"] as? [String] == ["greeter"])
        let greeterPort = fixture.port(8080)
        #expect(await eventually(.seconds(30)) { PortProbe.isAccepting(greeterPort) })

        // A broken build: the error, once, with file:line:col; greeter untouched and serving.
        try "struct Greeter { BROKEN }\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        var build: [String: Any] = [:]
        #expect(await eventually(.seconds(30)) {
            build = (try? await Self.build(fixture)) ?? [:]
            return build["phase"] as? String == "failed"
        }, "\(build)")
        #expect(build["errors"] as? [String] == ["\(source):3:5: error: cannot find 'BROKEN' in scope"], "\(build)")
        #expect(try await Self.pids(fixture)["greeter"] == after["greeter"])
        #expect(PortProbe.isAccepting(greeterPort))

        // auth changed too while the build is broken: that build fails, so auth keeps running
        // the old code; the fix's build must restart auth as well as greeter.
        let authSource = "Sources/Services/Auth/AuthService.swift"
        try FileManager.default.createDirectory(atPath: fixture.root + "/Sources/Services/Auth", withIntermediateDirectories: true)
        try "struct Auth { let version = 2 }\n".write(toFile: fixture.root + "/" + authSource, atomically: true, encoding: .utf8)
        #expect(await eventually(.seconds(30)) {
            let build = (try? await Self.build(fixture)) ?? [:]
            return build["phase"] as? String == "failed" && (build["startedAt"] as? Double ?? 0) > 0
        })
        try await Task.sleep(for: .seconds(1))
        #expect(try await Self.pids(fixture)["auth"] == before["auth"])

        // Fixed: built, and both restarted.
        try "struct Greeter { let version = 3 }\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        var fixed: [String: Int] = [:]
        #expect(await eventually(.seconds(60)) {
            fixed = (try? await Self.pids(fixture)) ?? [:]
            return fixed["greeter"] != nil && fixed["greeter"] != after["greeter"] && fixed["auth"] != nil && fixed["auth"] != before["auth"]
        }, "\(fixed)")
        #expect(await eventually(.seconds(30)) { (try? await Self.build(fixture)["phase"] as? String) == "succeeded" })
        #expect(Set(try await Self.build(fixture)["restarted"] as? [String] ?? []) == ["greeter", "auth"])
        // Only the copies services run are kept (the older one goes once both restarted).
        func copies() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: fixture.root + "/.devctl/run/bin")) ?? []).filter { $0.split(separator: ".").count == 3 }
        }
        #expect(await eventually(.seconds(30)) { copies().count == 1 }, "\(copies())")
    }
}
