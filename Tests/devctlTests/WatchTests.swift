import DevctlCore
import Foundation
import Testing
import TestSupport

/// `up --watch` with a fast fake build (`DEVCTL_WATCH_BUILD`; it "builds" the devctl under test):
/// only the service a change concerns restarts; a failed build changes nothing that runs and its
/// error (file:line:col, once) is in `status --json` until a build succeeds.
@Suite struct WatchTests {
    static func status(_ fixture: StackFixture) async throws -> [String: Any] {
        try DevctlProcess.json(await fixture.devctl(["status", "--json"]))
    }

    /// A field of every process in `status --json`, by process name.
    static func processes<Value>(_ fixture: StackFixture, _ field: String, as type: Value.Type = Value.self) async throws -> [String: Value] {
        var values: [String: Value] = [:]
        for process in try await status(fixture)["processes"] as? [[String: Any]] ?? [] {
            if let name = process["name"] as? String, let value = process[field] as? Value { values[name] = value }
        }
        return values
    }

    static func pids(_ fixture: StackFixture) async throws -> [String: Int] {
        try await processes(fixture, "pid")
    }

    static func states(_ fixture: StackFixture) async throws -> [String: String] {
        try await processes(fixture, "state")
    }

    static func build(_ fixture: StackFixture) async throws -> [String: Any] {
        try await status(fixture)["build"] as? [String: Any] ?? [:]
    }

    static func watch(_ fixture: StackFixture) async throws -> [String: Any]? {
        try await status(fixture)["watch"] as? [String: Any]
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

    /// devctl.yaml edited under `up --watch`: a changed environment restarts only that service,
    /// a new service starts, a removed one stops; an invalid file changes nothing.
    @Test func aValidConfigChangeIsAppliedAndAnInvalidOneChangesNothing() async throws {
        let environment = ["DEVCTL_WATCH_BUILD": "exit 0", "DEVCTL_WATCH_BINARY": DevctlProcess.executable]
        try await StackFixture.withStarted(["--watch"], environment: environment) { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let file = fixture.root + "/devctl.yaml"
            let original = try String(contentsOfFile: file, encoding: .utf8)
            let before = try await Self.pids(fixture)
            try await Task.sleep(for: .milliseconds(500))

            // greeter's environment gains a variable: greeter alone restarts.
            let greeterEnvironment = "      CALLER_BASE_URL: http://127.0.0.1:\(fixture.port(8081))\n"
            #expect(original.contains(greeterEnvironment))
            let changed = original.replacingOccurrences(of: greeterEnvironment, with: greeterEnvironment + "      GREETING_STYLE: formal\n")
            try changed.write(toFile: file, atomically: true, encoding: .utf8)
            var after: [String: Int] = [:]
            #expect(await eventually(.seconds(60)) {
                after = (try? await Self.pids(fixture)) ?? [:]
                return after["greeter"] != nil && after["greeter"] != before["greeter"]
            }, "greeter was not restarted: \(after)")
            #expect(await eventually(.seconds(30)) { (try? await Self.states(fixture))?["greeter"] == "ready" })
            for (name, pid) in before where name != "greeter" { #expect(after[name] == pid, "\(name) restarted too") }
            let environ = try String(contentsOfFile: "/proc/\(after["greeter"] ?? 0)/environ", encoding: .utf8)
            #expect(environ.contains("GREETING_STYLE=formal"), "the new greeter does not have the new variable")

            // A new service starts.
            let port = try FreePorts.take(1)[0]
            let withExtra = changed + """

                  extra:
                    kind: rest
                    port: \(port)
                    command: [python3, -m, http.server, "\(port)", --bind, 127.0.0.1]
                    health: {live: /, ready: /}

                """
            try withExtra.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await eventually(.seconds(60)) { (try? await Self.states(fixture))?["extra"] == "ready" }, "extra did not start")
            let extraPID = try #require(try await Self.pids(fixture)["extra"])

            // An invalid file: reported, nothing touched.
            try withExtra.replacingOccurrences(of: "port: \(port)", with: "port: lots").write(toFile: file, atomically: true, encoding: .utf8)
            // (devctl's verbs read devctl.yaml too: the supervisor's own files tell.)
            let supervisorLog = fixture.root + "/.devctl/logs/supervisor.log"
            #expect(await eventually(.seconds(30)) {
                ((try? String(contentsOfFile: supervisorLog, encoding: .utf8)) ?? "").contains("devctl.yaml is invalid")
            })
            let stateFile = try String(contentsOfFile: fixture.root + "/.devctl/run/stack.json", encoding: .utf8)
            #expect(stateFile.contains("\"pid\" : \(extraPID)") && stateFile.contains("\"pid\" : \(after["greeter"] ?? 0)"), "\(stateFile)")
            #expect(kill(pid_t(extraPID), 0) == 0, "extra was stopped by an invalid file")

            // Removed again: it stops and leaves the stack.
            try changed.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await eventually(.seconds(60)) { (try? await Self.states(fixture))?["extra"] == nil }, "extra is still in the stack")
            #expect(await eventually(.seconds(10)) { kill(pid_t(extraPID), 0) != 0 }, "extra's process still runs")
            let log = try await fixture.devctl(["logs", "--tail", "400"]).stdout
            #expect(log.contains("devctl.yaml applied: restarted greeter"), "\(log)")
            #expect(log.contains("devctl.yaml applied: started extra"), "\(log)")
            #expect(log.contains("devctl.yaml applied: stopped extra"), "\(log)")
        }
    }

    /// `devctl watch` beside a stack `up -d` started without watching: it drives the supervisor
    /// through the dashboard's API (restarts, build errors in `status`), the dashboard can pause
    /// it, a second watcher is refused, and stopping it leaves the stack running, unwatched.
    @Test func devctlWatchDrivesAStackStartedWithoutIt() async throws {
        let source = "Sources/Services/Greeter/GreeterService.swift"
        let fakeBuild = """
            if grep -q BROKEN \(source); then echo "$PWD/\(source):3:5: error: cannot find 'BROKEN' in scope"; exit 1; fi; exit 0
            """
        try await StackFixture.withStarted(prepare: { fixture in
            try FileManager.default.createDirectory(atPath: fixture.root + "/Sources/Services/Greeter", withIntermediateDirectories: true)
            try "struct Greeter {}\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        }) { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            #expect(try await Self.watch(fixture) == nil)
            let environment = DevctlProcess.cleanEnvironment(["DEVCTL_WATCH_BUILD": fakeBuild, "DEVCTL_WATCH_BINARY": DevctlProcess.executable])
            let watcher = try BackgroundProcess(DevctlProcess.executable, ["watch", "--config", fixture.root + "/devctl.yaml"], environment: environment)
            defer { watcher.stopNow() }
            #expect(try await watcher.firstLine().contains("watching"), "\(watcher.errors)")
            #expect(await eventually(.seconds(10)) { (try? await Self.watch(fixture))?["watcherPID"] as? Int == Int(watcher.pid) })
            let second = try await fixture.devctl(["watch"])
            #expect(second.status == 1 && second.stderr.contains("already watched (pid \(watcher.pid))"), "\(second.stderr)")

            // A change: greeter alone restarts on the build.
            let before = try await Self.pids(fixture)
            try "struct Greeter { let version = 2 }\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
            var after: [String: Int] = [:]
            #expect(await eventually(.seconds(60)) {
                after = (try? await Self.pids(fixture)) ?? [:]
                return after["greeter"] != nil && after["greeter"] != before["greeter"]
            }, "greeter was not restarted: \(after)")
            for (name, pid) in before where name != "greeter" { #expect(after[name] == pid, "\(name) restarted too") }

            // Paused from the dashboard: a broken change waits; resumed, its failure shows.
            let dashboard = try await DashboardTests.dashboardURL(fixture)
            let token = try String(contentsOfFile: fixture.root + "/.devctl/run/dashboard.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let pause = try await DashboardTests.send(.POST, dashboard + "/api/v1/watch/pause", headers: ["X-Devctl-Token": token])
            #expect(pause.status == 200, "\(pause)")
            try await Task.sleep(for: .seconds(1))
            try "struct Greeter { BROKEN }\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
            try await Task.sleep(for: .seconds(2))
            #expect(try await Self.build(fixture)["phase"] as? String == "succeeded", "a paused watcher built")
            #expect(try await Self.watch(fixture)?["paused"] as? Bool == true)
            let resume = try await DashboardTests.send(.POST, dashboard + "/api/v1/watch/resume", headers: ["X-Devctl-Token": token])
            #expect(resume.status == 200, "\(resume)")
            var build: [String: Any] = [:]
            #expect(await eventually(.seconds(30)) {
                build = (try? await Self.build(fixture)) ?? [:]
                return build["phase"] as? String == "failed"
            }, "\(build)")
            #expect(build["errors"] as? [String] == ["\(source):3:5: error: cannot find 'BROKEN' in scope"], "\(build)")
            #expect(try await Self.pids(fixture)["greeter"] == after["greeter"], "a failed build restarted greeter")

            // Stopped: the stack runs on, unwatched.
            await watcher.stop()
            #expect(await eventually(.seconds(10)) { (try? await Self.watch(fixture)) == nil }, "the watch record outlived the watcher")
            #expect(try await Self.pids(fixture)["greeter"] == after["greeter"])
            let unwatched = try await DashboardTests.send(.POST, dashboard + "/api/v1/build", headers: ["X-Devctl-Token": token])
            #expect(unwatched.status == 409, "\(unwatched)")
        }
    }
}
