#if canImport(Glibc)
import Glibc
#endif
import DevctlCore
import Foundation
@testable import Stack
import StackModel
import TestSupport
import Testing

/// The rendered config running in a real HAProxy, against backends that are down.
@Suite struct EdgeRuntimeTests {
    @Test func backendThatIsDownAnswers503WithoutTryingItAndUnknownPaths404() async throws {
        let haproxy = try #require(Subprocess.findExecutable("haproxy", extraDirectories: ["/usr/sbin"]), "haproxy is not installed")
        let ports = try FreePorts.take(2)
        let (edgePort, deadPort) = (ports[0], ports[1])
        let model = RouteModel(
            port: edgePort,
            routes: [.init(service: "greeter", pathPrefix: "/greeter.v1.GreeterService", port: deadPort, middlewares: [.rateLimit], readinessPath: "/readyz")],
            cors: .init(allowedOrigins: []), rateLimit: .init(), tokenIssuer: nil
        )
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let pid = try Self.startEdge(haproxy, model, in: folder)
        defer {
            kill(pid, SIGKILL)
            _ = ProcessSpawner.wait(for: pid)
        }
        #expect(await eventually(.seconds(20)) { PortProbe.isAccepting(edgePort) })
        // Every request is answered (the socket gives up after 10 s, failing the test): 503 with
        // a Connect-style body. Once health checks mark the backend down, HAProxy answers without
        // trying it at all — its access log says <NOSRV> — which is what "at once" means here,
        // whatever the machine's load does to the clock.
        var answeredWithoutTrying = false
        for attempt in 0..<60 where !answeredWithoutTrying {
            let path = "/greeter.v1.GreeterService/Greet?attempt=\(attempt)"
            let reply = try await Self.get(port: edgePort, path: path)
            #expect(reply.status == 503 && reply.body.contains(#""code":"unavailable""#), "\(reply)")
            answeredWithoutTrying = await eventually(.seconds(2)) {
                ((try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? "").split(separator: "\n")
                    .contains { $0.contains("attempt=\(attempt) ") && $0.contains("<NOSRV>") && $0.contains(" 503 ") }
            }
        }
        #expect(answeredWithoutTrying, "\(((try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? "").suffix(600))")
        let unknown = try await Self.get(port: edgePort, path: "/nowhere")
        #expect(unknown.status == 404 && unknown.body.contains(#""code":"not_found""#))
        #expect(try await Self.get(port: edgePort, path: EdgeConfig.healthPath).status == 200)
    }

    static func temporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// HAProxy on the rendered `model`, its access log in `folder`/access.log; returns its pid.
    static func startEdge(_ haproxy: String, _ model: RouteModel, in folder: String) throws -> pid_t {
        try EdgeConfig(model: model).render().write(toFile: folder + "/haproxy.cfg", atomically: true, encoding: .utf8)
        let log = open(folder + "/access.log", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        defer { close(log) }
        return try ProcessSpawner.spawn(haproxy, ["-f", folder + "/haproxy.cfg", "-db"], stdout: log, stderr: log)
    }

    /// A minimal HTTP/1.0 request over a socket from `source` (any 127/8 address: each one is
    /// its own client to the rate limiter), on a thread of its own and with socket timeouts, so
    /// a stuck edge fails the test instead of blocking a cooperative thread.
    static func get(port: Int, path: String, method: String = "GET", headers: [String: String] = [:], source: String = "127.0.0.1") async throws -> (status: Int, headers: [String: String], body: String) {
        try await withCheckedThrowingContinuation { continuation in
            Subprocess.onOwnThread {
                continuation.resume(with: Result { try blockingRequest(port: port, path: path, method: method, headers: headers, source: source) })
            }
        }
    }

    private static func blockingRequest(port: Int, path: String, method: String, headers: [String: String], source: String) throws -> (status: Int, headers: [String: String], body: String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DevctlFailure("socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw DevctlFailure("cannot connect to the edge on \(port)") }
        let extra = headers.map { "\($0.key): \($0.value)\r\n" }.joined()
        let request = Array("\(method) \(path) HTTP/1.0\r\nHost: localhost\r\n\(extra)\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 { throw DevctlFailure("no answer from the edge within 10 s (\(method) \(path))") }
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.split(separator: "\r\n") ?? []
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, fields, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// A backend that answers every GET with the request headers it received, as JSON (repeated
    /// headers joined with ", ", so a client's value next to the edge's would show).
    static let echoServer = """
        import http.server, json, sys
        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                names = {k.lower() for k in self.headers.keys()}
                body = json.dumps({k: ", ".join(self.headers.get_all(k)) for k in names}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
        """

    /// The echo server as `/auth` behind a real HAProxy edge rendered from a route model with
    /// `middlewares`, `cors` and `rateLimit`; `body` gets the edge's port, the backend's and the
    /// folder holding the access log. Both processes are killed afterwards.
    static func withEchoBehindEdge(middlewares: [Exposure.Middleware], cors: RouteModel.CORSPolicy = .init(allowedOrigins: []),
                                   rateLimit: RouteModel.RateLimitPolicy = .init(), tracesSampledPerSecond: Int? = 100,
                                   _ body: (_ edgePort: Int, _ backendPort: Int, _ folder: String) async throws -> Void) async throws {
        let haproxy = try #require(Subprocess.findExecutable("haproxy", extraDirectories: ["/usr/sbin"]), "haproxy is not installed")
        let python = try #require(Subprocess.findExecutable("python3"), "python3 is missing")
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try echoServer.write(toFile: folder + "/echo.py", atomically: true, encoding: .utf8)
        let ports = try FreePorts.take(2)
        let (backendPort, edgePort) = (ports[0], ports[1])
        let backend = try ProcessSpawner.spawn(python, [folder + "/echo.py", String(backendPort)])
        defer {
            kill(backend, SIGKILL)
            _ = ProcessSpawner.wait(for: backend)
        }
        let model = RouteModel(
            port: edgePort,
            routes: [.init(service: "auth", pathPrefix: "/auth", port: backendPort, middlewares: middlewares, readinessPath: "/readyz")],
            cors: cors, rateLimit: rateLimit, tokenIssuer: nil, tracesSampledPerSecond: tracesSampledPerSecond
        )
        let edge = try startEdge(haproxy, model, in: folder)
        defer {
            kill(edge, SIGKILL)
            _ = ProcessSpawner.wait(for: edge)
        }
        try await body(edgePort, backendPort, folder)
    }

    /// The `traceparent` the echo backend received, from its JSON answer.
    static func traceparent(seenIn reply: (status: Int, headers: [String: String], body: String)) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: String])?["traceparent"]
    }

    /// W3C trace context at the edge: a valid `traceparent` passes unchanged, a malformed or
    /// missing one is replaced by a new trace; the trace id is the response's X-Request-Id (the
    /// edge's own answers too) and is in the access log.
    @Test func traceContextIsKeptOrStartedAndNamesTheRequest() async throws {
        try await Self.withEchoBehindEdge(middlewares: []) { edgePort, _, folder in
            #expect(await eventually(.seconds(20), every: .milliseconds(200)) { (try? await Self.get(port: edgePort, path: "/auth/ready").status) == 200 })

            let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let kept = try await Self.get(port: edgePort, path: "/auth/kept", headers: ["traceparent": valid])
            #expect(Self.traceparent(seenIn: kept) == valid, "\(kept.body)")
            #expect(kept.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736")

            for malformed in [nil, "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"] as [String?] {
                let reply = try await Self.get(port: edgePort, path: "/auth/new", headers: malformed.map { ["traceparent": $0] } ?? [:])
                let seen = try #require(Self.traceparent(seenIn: reply), "\(reply.body)")
                #expect(seen.wholeMatch(of: /00-[0-9a-f]{32}-[0-9a-f]{16}-01/) != nil, "\(seen)")
                #expect(seen != valid)
                #expect(reply.headers["x-request-id"] == String(seen.split(separator: "-")[1]))
            }
            // The edge's own answer (no route) names its request too.
            let notFound = try await Self.get(port: edgePort, path: "/nowhere", headers: ["traceparent": valid])
            #expect(notFound.status == 404)
            #expect(notFound.headers["x-request-id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(await eventually(.seconds(5)) {
                ((try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? "").split(separator: "\n")
                    .contains { $0.contains("GET /auth/kept") && $0.hasSuffix("trace_id=4bf92f3577b34da6a3ce929d0e0e4736") }
            }, "\((try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? "")")
        }
    }

    /// The edge's sampling budget: the first new traces of a second are sampled, the rest get an
    /// id marked not sampled; a client's own decision is kept either way.
    @Test func newTracesBeyondTheBudgetAreNotSampled() async throws {
        try await Self.withEchoBehindEdge(middlewares: [], tracesSampledPerSecond: 3) { edgePort, _, _ in
            #expect(await eventually(.seconds(20), every: .milliseconds(200)) { (try? await Self.get(port: edgePort, path: "/auth/ready").status) == 200 })
            // The readiness polls above started traces too: two quiet seconds empty the budget's window (the
            // rate is a sliding estimate that still counts part of the previous second).
            try await Task.sleep(for: .milliseconds(2100))
            // Eight new traces at once (a slow machine may spread sequential requests past the
            // one-second window): the budget's three are sampled (a window boundary between them
            // can let through a couple more), the rest keep an id but are not sampled.
            let replies = try await withThrowingTaskGroup(of: (status: Int, headers: [String: String], body: String).self) { group in
                for _ in 0..<8 { group.addTask { try await Self.get(port: edgePort, path: "/auth/new") } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var flags: [String] = []
            for reply in replies {
                let seen = try #require(Self.traceparent(seenIn: reply), "\(reply.body)")
                #expect(seen.wholeMatch(of: /00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]/) != nil, "\(seen)")
                #expect(reply.headers["x-request-id"] == String(seen.split(separator: "-")[1]), "every request keeps its id")
                flags.append(String(seen.suffix(2)))
            }
            #expect((3...5).contains(flags.filter { $0 == "01" }.count) && flags.filter { $0 == "00" }.count >= 3, "\(flags)")
            // A client's sampled traceparent is kept past the budget; so is an unsampled one.
            for kept in ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"] {
                let reply = try await Self.get(port: edgePort, path: "/auth/kept", headers: ["traceparent": kept])
                #expect(Self.traceparent(seenIn: reply) == kept, "\(reply.body)")
            }
            // Under steady load past the budget, it still samples (the counter holds the sampled
            // traces, not all of them): about 3 a second.
            let clock = ContinuousClock()
            let started = clock.now
            var sampledAt: [Duration] = []
            while clock.now - started < .milliseconds(3000) {
                let reply = try await Self.get(port: edgePort, path: "/auth/load")
                let seen = Self.traceparent(seenIn: reply) ?? ""
                if seen.hasSuffix("-01") { sampledAt.append(clock.now - started) }
                try await Task.sleep(for: .milliseconds(40))
            }
            #expect(sampledAt.contains { $0 > .milliseconds(1500) }, "nothing sampled after the first second and a half: \(sampledAt)")
            #expect((2...14).contains(sampledAt.count), "\(sampledAt.count) sampled in 3 s with a budget of 3/s: \(sampledAt)")
            // The window moves on: two seconds later new traces are sampled again.
            try await Task.sleep(for: .milliseconds(2100))
            let later = try await Self.get(port: edgePort, path: "/auth/later")
            #expect(Self.traceparent(seenIn: later)?.hasSuffix("-01") == true, "\(later.body)")
        }
    }

    @Test func rateLimitCorsAndIdentityHeadersHoldAtRuntime() async throws {
        // /auth as devctl.yaml exposes it: cors and rate-limit, no token check. A small rate
        // policy: 3/s with a burst of 2 → 5 in one second, 30 in ten.
        try await Self.withEchoBehindEdge(middlewares: [.cors, .rateLimit], cors: .init(allowedOrigins: ["http://good.example"]),
                                          rateLimit: .init(average: 3, burst: 2)) { edgePort, backendPort, folder in
            #expect(await eventually(.seconds(20)) { PortProbe.isAccepting(edgePort) && PortProbe.isAccepting(backendPort) })
            // Until its first health check passes, HAProxy may hold the backend down (it started
            // before python listened): wait for an answer through the edge, from a client of its own
            // (at most 2 requests a second: this client is rate limited too).
            #expect(await eventually(.seconds(20), every: .milliseconds(500)) { (try? await Self.get(port: edgePort, path: "/auth/ready", source: "127.0.0.2").status) == 200 })

            // Identity comes from the edge: a client's X-User-Id is dropped (on /auth too), and its
            // X-Forwarded-For is replaced by the address the edge saw.
            let echoed = try await Self.get(port: edgePort, path: "/auth/echo", headers: ["X-User-Id": "mallory", "X-Forwarded-For": "6.6.6.6"], source: "127.0.0.3")
            #expect(echoed.status == 200, "\(echoed)")
            #expect(!echoed.body.contains("mallory"), "\(echoed.body)")
            #expect(echoed.body.contains(#""x-forwarded-for": "127.0.0.3""#), "\(echoed.body)")

            // CORS: an allowed origin is echoed with Vary; any other origin gets no allow header.
            let good = try await Self.get(port: edgePort, path: "/auth/echo", headers: ["Origin": "http://good.example"], source: "127.0.0.4")
            #expect(good.headers["access-control-allow-origin"] == "http://good.example")
            #expect(good.headers["vary"]?.contains("Origin") == true)
            let evil = try await Self.get(port: edgePort, path: "/auth/echo", headers: ["Origin": "http://evil.example"], source: "127.0.0.4")
            #expect(evil.status == 200 && evil.headers["access-control-allow-origin"] == nil, "\(evil.headers)")
            let evilPreflight = try await Self.get(port: edgePort, path: "/auth/echo", method: "OPTIONS",
                                                   headers: ["Origin": "http://evil.example", "Access-Control-Request-Method": "POST"], source: "127.0.0.5")
            #expect(evilPreflight.status == 204 && evilPreflight.headers["access-control-allow-origin"] == nil, "\(evilPreflight.headers)")

            // Rate limit: never before average+burst requests; and within ten seconds no more than
            // average×10 get through, whatever the one-second window saw.
            let clock = ContinuousClock()
            let start = clock.now
            var statuses: [Int] = []
            for _ in 0..<40 { statuses.append(try await Self.get(port: edgePort, path: "/auth/echo", source: "127.0.0.9").status) }
            let elapsed = clock.now - start
            #expect(!statuses.prefix(5).contains(429), "\(statuses)")
            #expect(statuses.contains(429), "\(statuses)")
            if elapsed < .seconds(10) {
                #expect(statuses.filter { $0 != 429 }.count <= 30, "\(statuses)")
            }
            let limited = try await Self.get(port: edgePort, path: "/auth/echo", source: "127.0.0.9")
            #expect(limited.status != 429 || (limited.headers["retry-after"] == "1" && limited.body.contains(#""code":"resource_exhausted""#)))
            // gRPC clients are refused with a gRPC status: RESOURCE_EXHAUSTED (8) in a trailers-only
            // 200, over h2c, from a client address of their own.
            let curl = try #require(Subprocess.findExecutable("curl"), "curl is missing")
            // 30 calls at once: the limit is reached however slowly a loaded machine starts each
            // curl (one after another, they can stay under it).
            let url = "http://127.0.0.1:\(edgePort)/auth/echo"
            let arguments = ["-s", "--http2-prior-knowledge", "--interface", "127.0.0.11", "-D", "-", "-o", "/dev/null",
                             "-H", "content-type: application/grpc", "--data-binary", "", url]
            var grpcRefusal = ""
            for _ in 0..<3 where !grpcRefusal.contains("grpc-status") {
                let answers = await withTaskGroup(of: String.self) { group in
                    for _ in 0..<30 { group.addTask { (try? await Subprocess(curl, arguments).output().stdout.lowercased()) ?? "" } }
                    return await group.reduce(into: [String]()) { $0.append($1) }
                }
                grpcRefusal = answers.first { $0.contains("grpc-status") } ?? "\(answers.count) answers, none refused; one: \(answers.first ?? "")"
            }
            #expect(grpcRefusal.hasPrefix("http/2 200"), "\(grpcRefusal)")
            #expect(grpcRefusal.contains("grpc-status: 8"), "\(grpcRefusal)")
            #expect(grpcRefusal.contains("grpc-message: rate limit exceeded"), "\(grpcRefusal)")
            // Its own content type back (grpc-go refuses a gRPC answer without one).
            #expect(grpcRefusal.contains("content-type: application/grpc"), "\(grpcRefusal)")
            // Another client is not limited by the first one's traffic.
            #expect(try await Self.get(port: edgePort, path: "/auth/echo", source: "127.0.0.10").status == 200)

            // The access log has a line per request.
            let accessLog = (try? String(contentsOfFile: folder + "/access.log", encoding: .utf8)) ?? ""
            #expect(accessLog.contains("GET /auth/echo"), "\(accessLog.suffix(500))")
        }
    }
}
