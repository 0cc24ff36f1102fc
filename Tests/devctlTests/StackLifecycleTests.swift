#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import DevctlCore
import Foundation
import Testing

/// `devctl up` / `down` / `status` end to end: the real binary, PostgreSQL, the five services
/// and HAProxy, on free ports in a temp copy of the repository.
@Suite(.serialized) struct StackLifecycleTests {
    static func statusJSON(_ fixture: StackFixture) async throws -> [String: Any] {
        try DevctlProcess.json(try await fixture.devctl(["status", "--json"]))
    }

    static func pid(of name: String, in status: [String: Any]) -> Int32? {
        ((status["processes"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == name }?["pid"] as? Int32
    }

    static func waitUntil(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await condition()
    }

    /// Runs `body` on a started stack; on failure the processes' last log lines are attached.
    private func withStartedStack(_ body: (StackFixture, Subprocess.Output) async throws -> Void) async throws {
        try await StackFixture.withStarted([], body)
    }

    /// Greet over gRPC through the edge, the message encoded by hand (field 1: name "gRPC").
    static let grpcGreet = """
        import grpc, sys
        port, token = sys.argv[1], sys.argv[2]
        channel = grpc.insecure_channel("127.0.0.1:" + port)
        greet = channel.unary_unary("/greeter.v1.GreeterService/Greet", request_serializer=lambda b: b, response_deserializer=lambda b: b)
        reply = greet(b"\\x0a\\x04gRPC", metadata=[("authorization", "Bearer " + token)], timeout=10)
        print("ok", reply[2:2 + reply[1]].decode())
        try:
            greet(b"\\x0a\\x04gRPC", timeout=10)
            print("no-token OK")
        except grpc.RpcError as error:
            print("no-token", error.code().name, error.details())
        try:
            channel.unary_unary("/nowhere.v1.Nothing/Call")(b"", timeout=10)
        except grpc.RpcError as error:
            print("no-route", error.code().name, error.details())
        # A server stream through the edge: WatchInvocations sees an InvokeCustom made meanwhile
        # (probes first: the gateway's LISTEN starts just after the stream opens).
        import threading, time
        auth = [("authorization", "Bearer " + token)]
        invoke = channel.unary_unary("/gateway.v1.GatewayService/InvokeCustom", request_serializer=lambda b: b, response_deserializer=lambda b: b)
        stream = channel.unary_stream("/gateway.v1.GatewayService/WatchInvocations", request_serializer=lambda b: b,
                                      response_deserializer=lambda b: b)(b"", metadata=auth, timeout=30)
        seen = []
        def read():
            try:
                for message in stream:
                    seen.append(message)
            except grpc.RpcError:
                pass
        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 20
        while not seen and time.monotonic() < deadline:
            invoke(b"\\x0a\\x05probe", metadata=auth, timeout=5)
            time.sleep(0.1)
        invoke(b"\\x0a\\x0aedge-watch", metadata=auth, timeout=5)
        while not any(b"edge-watch" in message for message in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        print("watch", "seen" if any(b"edge-watch" in message for message in seen) else "missing")
        stream.cancel()
        """

    /// A token for a new account, through the edge.
    private func bearer(_ fixture: StackFixture, email: String) async throws -> [String: String] {
        _ = try await fixture.request(.POST, "/auth/signup", json: #"{"email":"\#(email)","password":"lovelace1843"}"#)
        let login = try await fixture.request(.POST, "/auth/login", json: #"{"email":"\#(email)","password":"lovelace1843"}"#)
        let token = try #require(login.json["token"] as? String, "\(login.body)")
        return ["Authorization": "Bearer \(token)"]
    }

    /// Through the edge: auth, routes, identity, CORS, rate limits, status (one stack; the
    /// stack's faults are the next test, so a failure here hides none of them).
    @Test func upServesThroughTheEdge() async throws {
        try await withStartedStack { fixture, up in try await edgeScenario(fixture, up: up) }
    }

    private func edgeScenario(_ fixture: StackFixture, up: Subprocess.Output) async throws {
        #expect(up.status == 0, "up -d: \(up.stdout)\n\(up.stderr)")
        #expect(up.stdout.contains("ready in"))

        // One stack per repository.
        let second = try await fixture.devctl(["up", "-d"])
        #expect(second.status == 1)
        #expect(second.stderr.contains("already running"))

        // signup → login → Greet through the edge with the token.
        let signup = try await fixture.request(.POST, "/auth/signup", json: #"{"email":"ada@example.com","password":"lovelace1843"}"#)
        #expect(signup.status == 201, "\(signup.body)")
        let login = try await fixture.request(.POST, "/auth/login", json: #"{"email":"ada@example.com","password":"lovelace1843"}"#)
        let token = try #require(login.json["token"] as? String, "\(login.body)")
        let userID = try #require(signup.json["id"] as? String)
        let bearer = ["Authorization": "Bearer \(token)"]
        // A forged X-User-Id is dropped at the edge: the token's subject is what greeter sees.
        let greet = try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: #"{"name":"Ada"}"#,
                                              headers: bearer.merging(["X-User-Id": "mallory"]) { $1 })
        #expect(greet.status == 200, "\(greet.body)")
        #expect(greet.json["message"] as? String == "Hello Ada!")
        #expect(try await fixture.scalar("SELECT user_id FROM greetings WHERE name = 'Ada'", in: "greeter_db") == userID)

        // The services run Swift Concurrency on their event loops as the generic executor
        // (EventLoopGlobalExecutor): a Greet hands greeter's loop a job only where a task really
        // waits (the caller's answer, the insert, a new task), not one per `async` call — run
        // isolated to the loop's own executor (NIO's take-over) it was 269 here (debug build), 14 now.
        let greeterOrigin = "http://127.0.0.1:\(fixture.port(8080))"
        func enqueuedJobs() async throws -> Double {
            let metrics = try await fixture.request(.GET, "/metrics", origin: greeterOrigin)
            let line = try #require(metrics.body.split(separator: "\n").first { $0.hasPrefix("executor_jobs_enqueued_total ") }, "\(metrics.body)")
            return try #require(Double(line.split(separator: " ").last ?? ""), "\(line)")
        }
        let jobsBefore = try await enqueuedJobs()
        let greets = 40
        for index in 0..<greets {
            let direct = try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: #"{"name":"jobs\#(index)"}"#, origin: greeterOrigin)
            #expect(direct.status == 200, "\(direct.body)")
        }
        let jobsPerGreet = (try await enqueuedJobs() - jobsBefore) / Double(greets)
        #expect(jobsPerGreet > 0 && jobsPerGreet <= 30, "\(jobsPerGreet) jobs per Greet on greeter's event loop")

        // gRPC (grpcio, h2c with prior knowledge) through the edge to greeter, which the edge
        // reaches over h2c: the token travels as `authorization` metadata; none is refused as
        // UNAUTHENTICATED.
        let grpc = try await Subprocess("/usr/bin/env", ["python3", "-c", Self.grpcGreet, String(fixture.ports[30081] ?? 0), token]).output()
        #expect(grpc.status == 0, "\(grpc.stderr)")
        #expect(grpc.stdout.contains("ok Hello gRPC!"), "\(grpc.stdout)\n\(grpc.stderr)")
        // The edge's refusals arrive as gRPC statuses with their message (not an HTTP status).
        #expect(grpc.stdout.contains("no-token UNAUTHENTICATED missing, invalid or expired token"), "\(grpc.stdout)")
        #expect(grpc.stdout.contains("no-route UNIMPLEMENTED no route for this path"), "\(grpc.stdout)")
        #expect(grpc.stdout.contains("watch seen"), "\(grpc.stdout)\n\(grpc.stderr)")
        // grpcurl through the edge: reflection is not routed there, so the call is built from the
        // repository's proto files; the token goes as metadata.
        let grpcurl = try #require(Subprocess.findExecutable("grpcurl"), "grpcurl is missing (scripts/setup.sh installs 1.8.6)")
        let grpcurlGreet = try await Subprocess(grpcurl, ["-plaintext", "-import-path", repositoryRoot + "/proto", "-proto", "greeter/v1/greeter.proto",
                                                          "-H", "authorization: Bearer \(token)", "-d", #"{"name":"grpcurl"}"#,
                                                          "127.0.0.1:\(fixture.ports[30081] ?? 0)", "greeter.v1.GreeterService/Greet"]).output()
        #expect(grpcurlGreet.status == 0, "\(grpcurlGreet.stderr)")
        #expect(grpcurlGreet.stdout.contains("Hello grpcurl!"), "\(grpcurlGreet.stdout)")
        // grpc-go (grpcurl) is strict where grpcio is not: the edge's refusals must carry a gRPC
        // content type, or it reports "missing HTTP content-type" as Unknown.
        let grpcurlRefused = try await Subprocess(grpcurl, ["-plaintext", "-import-path", repositoryRoot + "/proto", "-proto", "greeter/v1/greeter.proto",
                                                            "-d", #"{"name":"grpcurl"}"#,
                                                            "127.0.0.1:\(fixture.ports[30081] ?? 0)", "greeter.v1.GreeterService/Greet"]).output()
        #expect(grpcurlRefused.stderr.contains("Code: Unauthenticated") && grpcurlRefused.stderr.contains("missing, invalid or expired token"),
                "\(grpcurlRefused.stderr)")
        // Every bundled RPC with Connect, gRPC-Web and gRPC (connectrpc's client): through the
        // edge for the exposed services, on its own port for caller.
        let everyRPC = try await Subprocess("/usr/bin/env", ["python3", repositoryRoot + "/Tests/devctlTests/Peers/every_rpc.py", repositoryRoot + "/proto",
                                                             "\(fixture.ports[30081] ?? 0)", "\(fixture.ports[8081] ?? 0)", "\(fixture.ports[3000] ?? 0)", token]).output()
        #expect(everyRPC.status == 0, "\(everyRPC.stderr)")
        for wire in ["connect", "grpc-web", "grpc"] {
            #expect(everyRPC.stdout.contains("Greet \(wire) Hello \(wire)!"), "\(everyRPC.stdout)")
            #expect(everyRPC.stdout.contains("InvokeCustom \(wire) Hello \(wire) from custom-lang-service!"), "\(everyRPC.stdout)")
            #expect(everyRPC.stdout.contains("GetOverview \(wire) auth,custom-lang"), "\(everyRPC.stdout)")
            #expect(everyRPC.stdout.contains("WatchInvocations \(wire) ERROR deadline_exceeded"), "\(everyRPC.stdout)")
            #expect(everyRPC.stdout.contains("CallExternal \(wire) 200"), "\(everyRPC.stdout)")
        }
        #expect(try await fixture.scalar("SELECT user_id FROM greetings WHERE name = 'gRPC'", in: "greeter_db") == userID)

        let notFound = try await fixture.request(.POST, "/gateway.v1.GatewayService/InvokeCustom", json: #"{"name":"notfound"}"#, headers: bearer)
        #expect(notFound.status == 404)
        #expect(notFound.json["code"] as? String == "not_found")

        // No token, expired, alg none, wrong secret: 401 with a Connect-style body.
        let expired = try StackFixture.token(claims: ["sub": userID, "exp": Int(Date().timeIntervalSince1970) - 60])
        let none = try StackFixture.token(claims: ["sub": userID, "exp": Int(Date().timeIntervalSince1970) + 600], algorithm: "none")
        let forged = try StackFixture.token(claims: ["sub": userID, "exp": Int(Date().timeIntervalSince1970) + 600], secret: "another-secret-that-is-also-32-bytes-long")
        let noExp = try StackFixture.token(claims: ["sub": userID])
        for headers in [[:], ["Authorization": "Bearer \(expired)"], ["Authorization": "Bearer \(none)"],
                        ["Authorization": "Bearer \(forged)"], ["Authorization": "Bearer \(noExp)"]] {
            let refused = try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: "{}", headers: headers)
            #expect(refused.status == 401, "\(headers)")
            #expect(refused.json["code"] as? String == "unauthenticated")
        }
        // Password guessing through the edge: a forged X-Forwarded-For does not make each guess
        // look like a new client (the edge replaces it), so one client's guesses across accounts
        // are throttled after 20, and a token's whole-second exp is what HAProxy's int check reads.
        var guesses: [Int] = []
        for index in 0..<22 {
            let guess = try await fixture.request(.POST, "/auth/login", json: #"{"email":"guess\#(index)@example.com","password":"guess-\#(index)-x"}"#,
                                                  headers: ["X-Forwarded-For": "198.51.100.\(index)"])
            guesses.append(guess.status)
        }
        #expect(guesses.prefix(20).allSatisfy { $0 == 401 }, "\(guesses)")
        #expect(guesses.last == 429, "\(guesses)")

        // Unknown path, CORS preflight.
        // A page path no API has: the frontend (its router shows "not found"); any other method
        // there is the edge's own no-route answer.
        let page = try await fixture.request(.GET, "/nowhere")
        #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8", "\(page.status) \(page.headers)")
        #expect(try await fixture.request(.POST, "/nowhere", json: "{}").status == 404)
        let preflight = try await fixture.request(.OPTIONS, "/greeter.v1.GreeterService/Greet",
                                                  headers: ["Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"])
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-origin"] == "http://localhost:5173")
        #expect(preflight.headers["access-control-allow-headers"]?.contains("Connect-Protocol-Version") == true)
        #expect(preflight.headers["vary"]?.contains("Origin") == true)

        let status = try await fixture.devctl(["status", "--json"])
        #expect(status.status == 0, "\(status.stdout)")
        // Services run from the stack's own copy of devctl, not the build output a later
        // `swift build` replaces.
        let greeterExecutable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(try #require(Self.pid(of: "greeter", in: DevctlProcess.json(status))))/exe")
        #expect(greeterExecutable.hasPrefix(fixture.root + "/.devctl/run/bin/devctl."), "\(greeterExecutable)")
        #expect(try DevctlProcess.json(status)["ready"] as? Bool == true)

        // Rate limiting at runtime (both windows, per client) is EdgeRuntimeTests' job, with a
        // policy small enough to be exceeded on a loaded machine; here, the stack's policy
        // reaches the edge's config.
        let config = try String(contentsOfFile: fixture.root + "/.devctl/edge/haproxy.cfg", encoding: .utf8)
        #expect(config.contains("sc_http_req_rate(0) gt 150") && config.contains("sc_http_req_rate(1) gt 1000"))
    }

    /// Faults and lifecycle: a killed service is restarted under load, PostgreSQL stopped and
    /// started, down leaves nothing, data survives an up, kill -9 of the supervisor.
    @Test func upSurvivesFaultsAndDownLeavesNothing() async throws {
        try await withStartedStack { fixture, up in
            #expect(up.status == 0, "up -d: \(up.stdout)\n\(up.stderr)")
            try await faultScenario(fixture)
        }
    }

    private func faultScenario(_ fixture: StackFixture) async throws {
        let bearer = try await bearer(fixture, email: "ada@example.com")
        #expect(try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: #"{"name":"Ada"}"#, headers: bearer).status == 200)
        // kill -9 greeter under load: no request hangs (each is answered within 3 s: 200 once
        // HAProxy's connect retry reaches the restarted greeter, 502/503 while it is down; only
        // the request in flight at the kill may see its connection closed), the supervisor
        // restarts greeter, and Greet works again. (A backend that stays down → 503 at once:
        // EdgeRuntimeTests.)
        let greeterPID = try #require(Self.pid(of: "greeter", in: try await Self.statusJSON(fixture)))
        let load = Task {
            var outcomes: [String] = []
            let end = ContinuousClock.now.advanced(by: .seconds(4))
            while ContinuousClock.now < end {
                do {
                    outcomes.append(String(try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: "{}", headers: bearer, timeout: .seconds(3)).status))
                } catch let error as HTTPClientError where error == .deadlineExceeded {
                    outcomes.append("hung")
                } catch {
                    outcomes.append("closed")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return outcomes
        }
        try await Task.sleep(for: .milliseconds(500))
        kill(greeterPID, SIGKILL)
        let outcomes = await load.value
        #expect(outcomes.allSatisfy { ["200", "502", "503", "closed"].contains($0) }, "\(outcomes)")
        #expect(outcomes.filter { $0 == "closed" }.count <= 2, "\(outcomes)")
        let recovered = try await Self.waitUntil(.seconds(20)) {
            let state = try await Self.statusJSON(fixture)
            let greeter = ((state["processes"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == "greeter" }
            return greeter?["state"] as? String == "ready" && (greeter?["restarts"] as? Int ?? 0) >= 1
        }
        #expect(recovered)
        #expect(try await Self.waitUntil(.seconds(10)) {
            try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: #"{"name":"again"}"#, headers: bearer).status == 200
        })

        // PostgreSQL stopped: RPCs answer unavailable; started again: they recover by themselves.
        #expect(try await fixture.devctl(["db", "stop"]).status == 0)
        let down = try await fixture.request(.POST, "/gateway.v1.GatewayService/InvokeCustom", json: #"{"name":"Ada"}"#, headers: bearer)
        #expect(down.status == 503, "\(down.body)")
        #expect(down.json["code"] as? String == "unavailable")
        #expect(try await fixture.devctl(["db", "start"]).status == 0)
        #expect(try await Self.waitUntil(.seconds(30)) {
            try await fixture.request(.POST, "/gateway.v1.GatewayService/InvokeCustom", json: #"{"name":"Ada"}"#, headers: bearer).status == 200
        })

        // down: nothing of the stack alive, every port free.
        let pids = ((try await Self.statusJSON(fixture)["processes"] as? [[String: Any]]) ?? []).compactMap { $0["pid"] as? Int32 }
        let stopped = try await fixture.devctl(["down"])
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(pids.count == 7 && pids.allSatisfy { kill($0, 0) != 0 })
        #expect(StackFixture.devPorts.allSatisfy { PortProbe.isFree(fixture.port($0)) })
        #expect(try await fixture.devctl(["status"]).status == 1)

        // up again: the data is still there.
        #expect(try await fixture.devctl(["up", "-d"]).status == 0)
        let again = try await fixture.request(.POST, "/auth/login", json: #"{"email":"ada@example.com","password":"lovelace1843"}"#)
        #expect(again.status == 200)
        #expect(try await fixture.scalar("SELECT count(*) FROM greetings", in: "greeter_db").flatMap(Int.init) ?? 0 >= 2)

        // kill -9 of the supervisor: its children die with it; down cleans up the rest.
        let state = try await Self.statusJSON(fixture)
        let supervisor = try #require(state["supervisorPID"] as? Int32)
        let children = ((state["processes"] as? [[String: Any]]) ?? []).compactMap { $0["pid"] as? Int32 }
        kill(supervisor, SIGKILL)
        #expect(try await Self.waitUntil(.seconds(15)) { children.allSatisfy { kill($0, 0) != 0 } })
        #expect(try await fixture.devctl(["down"]).status == 0)
        #expect(StackFixture.devPorts.allSatisfy { PortProbe.isFree(fixture.port($0)) })
    }

    @Test func foregroundUpStreamsPrefixedLogsAndStopsOnSIGINT() async throws {
        let fixture = try StackFixture.make()
        defer { TemporaryFolder.remove(fixture.root) }
        let output = fixture.root + "/up.out"
        let descriptor = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let pid = try ProcessSpawner.spawn(DevctlProcess.executable, ["up", "custom-lang", "--no-deps"],
                                           environment: DevctlProcess.cleanEnvironment([:]), inheritEnvironment: false, workingDirectory: fixture.root,
                                           stdout: descriptor, stderr: descriptor)
        close(descriptor)
        let ready = try await Self.waitUntil(.seconds(60)) {
            (try? await fixture.devctl(["status", "--json"]).status) == 0
        }
        #expect(ready)
        // A browser tab on the dashboard: a keep-alive connection still open at Ctrl-C (Hummingbird
        // logged that stop as errors: "Waiting on child channel: CancellationError()").
        let dashboardURL = try await Self.statusJSON(fixture)["dashboard"] as? String
        let dashboardPort = try #require(dashboardURL.flatMap { URL(string: $0)?.port }, "no dashboard in status --json")
        let python = try #require(Subprocess.findExecutable("python3"), "python3 is missing")
        let holder = try ProcessSpawner.spawn(python, ["-c", """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"GET /api/v1/state HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            s.recv(65536)
            time.sleep(60)
            """, String(dashboardPort)])
        defer {
            kill(holder, SIGKILL)
            _ = ProcessSpawner.wait(for: holder)
        }
        try await Task.sleep(for: .milliseconds(500))
        kill(pid, SIGINT)
        let status = await Task.detached { ProcessSpawner.wait(for: pid) }.value
        #expect(status == 0)
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.contains("custom-lang | "), "\(text)")
        #expect(text.contains("custom-lang: ready in"))
        #expect(text.contains("custom-lang: stopping"))
        #expect(!text.contains("Waiting on child channel") && !text.contains("Server shutdown error"), "\(text)")
        // Foreground up stops what it started, PostgreSQL included.
        #expect(PortProbe.isFree(fixture.port(3000)) && PortProbe.isFree(fixture.port(5432)))
        await fixture.tearDown()
    }

    @Test func upRefusesATakenPortAndStartsNothing() async throws {
        let fixture = try StackFixture.make()
        defer { TemporaryFolder.remove(fixture.root) }
        // Hold greeter's port.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(fixture.port(8080)).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(bound == 0 && listen(holder, 1) == 0)

        let up = try await fixture.devctl(["up", "-d"])
        #expect(up.status == 1)
        #expect(up.stderr.contains("port \(fixture.port(8080)) (greeter) is in use"), "\(up.stderr)")
        #expect(up.stderr.contains("nothing was started"))
        // Not even PostgreSQL.
        #expect(PortProbe.isFree(fixture.port(5432)))
        #expect(try await fixture.devctl(["status"]).status == 1)
        await fixture.tearDown()
    }
}
