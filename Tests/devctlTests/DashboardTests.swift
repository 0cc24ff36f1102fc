import AsyncHTTPClient
import DevctlCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// The dashboard `up` serves: its page in a real headless Chromium, its API's trust rules, and
/// its event stream's resume after a reconnect.
@Suite struct DashboardTests {
    static let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers").path
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func dashboardURL(_ fixture: StackFixture) async throws -> String {
        let status = try DevctlProcess.json(await fixture.devctl(["status", "--json"]))
        return try #require(status["dashboard"] as? String, "status --json has no dashboard: \(status)")
    }

    @Test func theDashboardInARealBrowser() async throws {
        let source = "Sources/Services/Greeter/GreeterService.swift"
        // Fails like swift build while the source says BROKEN (see WatchTests).
        let fakeBuild = """
            if grep -q BROKEN \(source); then echo "$PWD/\(source):3:5: error: cannot find 'BROKEN' in scope"; exit 1; fi; exit 0
            """
        let environment = ["DEVCTL_WATCH_BUILD": fakeBuild, "DEVCTL_WATCH_BINARY": DevctlProcess.executable]
        try await StackFixture.withStarted(["--watch"], environment: environment, prepare: { fixture in
            try FileManager.default.createDirectory(atPath: fixture.root + "/Sources/Services/Greeter", withIntermediateDirectories: true)
            try "struct Greeter {}\n".write(toFile: fixture.root + "/" + source, atomically: true, encoding: .utf8)
        }) { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let url = try await Self.dashboardURL(fixture)
            // Screenshots of each step stay for a person (or CI) to look at.
            let artifacts = Self.repositoryRoot + "/.build/artifacts/dashboard"
            // Chromium at the lowest CPU priority: on a small machine it would otherwise starve the
            // tests running beside it (their deadlines are seconds); its own waits are generous.
            let browser = Subprocess("/usr/bin/nice", ["-n", "19", "/usr/bin/timeout", "240", "/usr/bin/python3", Self.peers + "/dashboard_browser.py",
                                                       "--url", url, "--edge", fixture.edge, "--source-file", fixture.root + "/" + source, "--artifacts", artifacts])
            let run = try await browser.output()
            #expect(run.status == 0, "the browser test failed (needs Debian chromium, chromium-driver, python3-selenium: scripts/setup.sh):\n\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("ok: 7 steps"), "\(run.stdout)")
        }
    }

    static func send(_ method: HTTPMethod, _ url: String, headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        let response = try await StackFixture.http.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), String(buffer: body))
    }

    @Test func actionsNeedTheTokenAndTheDashboardsOwnOrigin() async throws {
        try await StackFixture.withStarted { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let url = try await Self.dashboardURL(fixture)
            let port = try #require(URL(string: url)?.port)
            let tokenFile = fixture.root + "/.devctl/run/dashboard.token"
            let token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let mode = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int
            #expect(mode == 0o600, "the token file is readable by others: \(String(mode ?? 0, radix: 8))")
            let restart = url + "/api/v1/resources/caller/restart"
            let callerPID = try await WatchTests.pids(fixture)["caller"]

            let withoutToken = try await Self.send(.POST, restart)
            #expect(withoutToken.status == 403, "\(withoutToken)")
            let wrongToken = try await Self.send(.POST, restart, headers: ["X-Devctl-Token": String(token.reversed())])
            #expect(wrongToken.status == 403, "\(wrongToken)")
            let otherOrigin = try await Self.send(.POST, restart, headers: ["X-Devctl-Token": token, "Origin": "http://evil.example"])
            #expect(otherOrigin.status == 403, "\(otherOrigin)")
            let otherLocalPage = try await Self.send(.POST, restart, headers: ["X-Devctl-Token": token, "Origin": "http://127.0.0.1:\(port + 1)"])
            #expect(otherLocalPage.status == 403, "another local port is another origin: \(otherLocalPage)")
            // DNS rebinding: a name that resolves to 127.0.0.1 is not this dashboard's.
            let rebound = try await Self.send(.GET, url + "/api/v1/state", headers: ["Host": "evil.example:\(port)"])
            #expect(rebound.status == 421, "\(rebound)")
            let reboundPage = try await Self.send(.GET, url + "/", headers: ["Host": "evil.example:\(port)"])
            #expect(reboundPage.status == 421 && !reboundPage.body.contains(token), "the page (with its token) went to another host")
            #expect(try await WatchTests.pids(fixture)["caller"] == callerPID, "a refused request restarted caller")

            // The page carries the token; its own origin and the token act.
            let page = try await Self.send(.GET, url + "/")
            #expect(page.status == 200 && page.body.contains(token))
            let allowed = try await Self.send(.POST, restart, headers: ["X-Devctl-Token": token, "Origin": url])
            #expect(allowed.status == 200, "\(allowed)")
            let after = try await WatchTests.pids(fixture)["caller"]
            #expect(after != nil && after != callerPID, "caller was not restarted")
            let unknown = try await Self.send(.POST, url + "/api/v1/resources/nothing/restart", headers: ["X-Devctl-Token": token])
            #expect(unknown.status == 404, "\(unknown)")
            let notWatching = try await Self.send(.POST, url + "/api/v1/build", headers: ["X-Devctl-Token": token])
            #expect(notWatching.status == 409 && notWatching.body.contains("--watch"), "\(notWatching)")

            // The JSON API a script reads: the state and the logs, with the restart in them.
            let state = try await Self.send(.GET, url + "/api/v1/state")
            let stack = try #require((try JSONSerialization.jsonObject(with: Data(state.body.utf8)) as? [String: Any])?["stack"] as? [String: Any])
            let processes = stack["processes"] as? [[String: Any]] ?? []
            #expect(Set(processes.compactMap { $0["name"] as? String }) == ["greeter", "caller", "gateway", "auth", "custom-lang", "web", "edge"])
            let logs = try await Self.send(.GET, url + "/api/v1/logs?source=devctl")
            #expect(logs.body.contains("caller: restart requested"), "\(logs.body.prefix(2000))")
        }
    }

    @Test func aReconnectingPageGetsWhatItMissed() async throws {
        try await StackFixture.withStarted { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let url = try await Self.dashboardURL(fixture)
            let all = try await Self.send(.GET, url + "/api/v1/events?after=0&limit=100000")
            let list = try #require(try JSONSerialization.jsonObject(with: Data(all.body.utf8)) as? [String: Any])
            let events = list["events"] as? [[String: Any]] ?? []
            let newest = try #require(list["newest"] as? Int)
            #expect(newest > 10 && list["gap"] as? Bool == false, "\(list)")
            let ids = events.compactMap { $0["id"] as? Int }
            #expect(ids == Array(1...newest), "ids are consecutive from 1")

            // As EventSource reconnects: Last-Event-ID three behind → those three, in order, the
            // last carrying the id to resume from.
            let missed = events.suffix(3)
            let epoch = try #require(list["epoch"] as? String)
            let stream = try await Self.firstChunks(of: url + "/api/v1/events", lastEventID: "\(epoch)-\(newest - 3)", until: "id: \(epoch)-\(newest)\n")
            var position = stream.startIndex
            for event in missed {
                guard let kind = event["kind"] as? String else { continue }
                let range = try #require(stream.range(of: "event: \(kind)\ndata: ", range: position..<stream.endIndex), "event \(event["id"] ?? "?") missing from:\n\(stream)")
                position = range.upperBound
            }
            #expect(stream.contains("id: \(epoch)-\(newest)\n"))
            #expect(!stream.contains("-\(newest - 3)\n"), "an event the page had was sent again")

            // An id of another run of the stack (a page from before a restart): start afresh.
            let stale = try await Self.firstChunks(of: url + "/api/v1/events", lastEventID: "x\(epoch)-\(newest - 3)", until: "event: reset")
            #expect(stale.contains("event: reset"))
        }
    }

    /// Reads a Server-Sent Events response until `marker` appears (or 10 s pass).
    static func firstChunks(of url: String, lastEventID: String, until marker: String) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        request.headers.add(name: "Last-Event-ID", value: lastEventID)
        let response = try await StackFixture.http.execute(request, timeout: .seconds(10))
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        var text = ""
        for try await chunk in response.body {
            text += String(buffer: chunk)
            if text.contains(marker) { break }
        }
        return text
    }
}

/// The TypeScript client `devctl gen` writes for the frontend (frontend/src/gen), in Node against
/// the real stack through the edge: unary, error codes, a server stream (bundled by esbuild,
/// run by node's own test runner).
@Suite struct GeneratedTypeScriptClientTests {
    @Test func theGeneratedClientCallsTheRealServices() async throws {
        let esbuild = try #require(Subprocess.findExecutable("esbuild"), "esbuild is missing: apt-get install -y esbuild (scripts/setup.sh does)")
        let node = try #require(Subprocess.findExecutable("node"), "node is missing: apt-get install -y nodejs")
        try await StackFixture.withStarted { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let bundle = fixture.root + "/generated_client.test.mjs"
            let bundled = try await Subprocess(esbuild, [DashboardTests.peers + "/generated_client.test.ts", "--bundle", "--platform=node", "--format=esm",
                                                         "--outfile=\(bundle)", "--log-level=warning"]).output()
            #expect(bundled.status == 0, "esbuild:\n\(bundled.stderr)")
            let run = try await Subprocess(node, ["--test", bundle], environment: ["EDGE_URL": fixture.edge]).output()
            #expect(run.status == 0, "node --test:\n\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("# pass 2") && run.stdout.contains("# fail 0"), "\(run.stdout)")
        }
    }
}

/// The web frontend the stack serves at / (built by `up`, React from Debian, the generated
/// clients), in a real headless Chromium: sign-up rules, log-in, greet, errors with their code,
/// the live list across tabs, the language preference, log-out and an expired session.
@Suite struct FrontendBrowserTests {
    @Test func theFrontendInARealBrowser() async throws {
        try await StackFixture.withStarted { fixture, up in
            #expect(up.status == 0, "\(up.stdout)\n\(up.stderr)")
            let artifacts = DashboardTests.repositoryRoot + "/.build/artifacts/frontend"
            // Lowest CPU priority, as the dashboard's browser test (other tests run beside it).
            let browser = Subprocess("/usr/bin/nice", ["-n", "19", "/usr/bin/timeout", "240", "/usr/bin/python3", DashboardTests.peers + "/frontend_browser.py",
                                                       "--edge", fixture.edge, "--artifacts", artifacts])
            let run = try await browser.output()
            #expect(run.status == 0, "the browser test failed (needs Debian chromium, chromium-driver, python3-selenium: scripts/setup.sh):\n\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("ok: 10 steps"), "\(run.stdout)")
        }
    }
}
