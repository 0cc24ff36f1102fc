import AsyncHTTPClient
import DevctlCore
import Foundation
import Glibc
import Testing
import TestSupport

/// A process in the background (a peer server, a `devctl serve`), started by devctl's own
/// spawner (Foundation's `Process` passes on the test thread's blocked signals: SIGTERM would
/// never arrive): its stdout's first line is read as it arrives; stop() ends it and returns what
/// it wrote to stderr.
final class BackgroundProcess: @unchecked Sendable {
    let pid: pid_t
    private let stdout: FileHandle
    private let stderrFile: String
    private var stopped = false

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        stderrFile = NSTemporaryDirectory() + "devctl-bg-\(UUID().uuidString.prefix(8)).err"
        let errors = open(stderrFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(errors) }
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw DevctlFailure("cannot make a pipe") }
        // The spawner closes what the child does not need; the read end stays ours alone.
        _ = fcntl(pipe[0], F_SETFD, FD_CLOEXEC)
        defer { close(pipe[1]) }
        pid = try ProcessSpawner.spawn(executable, arguments, environment: environment ?? [:], inheritEnvironment: environment == nil,
                                       stdout: pipe[1], stderr: errors)
        stdout = FileHandle(fileDescriptor: pipe[0], closeOnDealloc: true)
    }

    /// The first line the process prints (a peer's port). Read on a thread of its own: a blocking
    /// read on one of the few cooperative threads would stall every test running beside it.
    func firstLine() async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            Subprocess.onOwnThread { continuation.resume(with: Result { try self.readFirstLine() }) }
        }
    }

    private func readFirstLine() throws -> String {
        var line = Data()
        while true {
            let byte = stdout.readData(ofLength: 1)
            guard let first = byte.first else { throw DevctlFailure("the process ended before printing a line: \(errors)") }
            if first == UInt8(ascii: "\n") { break }
            line.append(first)
        }
        return String(decoding: line, as: UTF8.self)
    }

    var errors: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    /// SIGTERM, wait (on a thread of its own), and what the process wrote to stderr.
    @discardableResult
    func stop() async -> String {
        await withCheckedContinuation { continuation in
            Subprocess.onOwnThread { continuation.resume(returning: self.stopNow()) }
        }
    }

    /// ``stop()`` for a `defer` (which cannot wait): blocks, so only for a process already
    /// stopped or stopping fast.
    @discardableResult
    func stopNow() -> String {
        if !stopped {
            stopped = true
            kill(pid, SIGTERM)
            _ = ProcessSpawner.wait(for: pid)
        }
        defer { try? FileManager.default.removeItem(atPath: stderrFile) }
        return errors
    }
}

/// Traces across the stack: every service's spans, from the edge to the last query, to a receiver
/// that is not ours (PyPI's opentelemetry-proto decoding OTLP/HTTP) and to devctl's own
/// (`devctl traces`); and what tracing must never do (crash on a bad OTEL_* value, flood the log
/// while its receiver is down, send anything when it is off).
@Suite struct TracingTests {
    static let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers").path
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/traces-waterfall.txt").path
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let clientSpanID = "00f067aa0ba902b7"

    struct ReceivedSpan: Decodable {
        var service: String
        var trace_id: String
        var span_id: String
        var parent_span_id: String
        var name: String
        var kind: Int
        var status: Int
        var attributes: [String: String]
    }

    /// signup → login: a token for the edge.
    private func token(_ fixture: StackFixture) async throws -> String {
        let email = "trace-\(UUID().uuidString.prefix(8))@example.com"
        _ = try await fixture.request(.POST, "/auth/signup", json: #"{"email":"\#(email)","password":"lovelace1843"}"#)
        let login = try await fixture.request(.POST, "/auth/login", json: #"{"email":"\#(email)","password":"lovelace1843"}"#)
        return try #require(login.json["token"] as? String, "\(login.body)")
    }

    /// Greet through the edge with a known traceparent (the body as given).
    private func greetThroughEdge(_ fixture: StackFixture, body: String, trace: String = TracingTests.traceID, token: String) async throws -> StackFixture.Reply {
        try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: body,
                                  headers: ["Authorization": "Bearer \(token)", "traceparent": "00-\(trace)-\(Self.clientSpanID)-01"])
    }

    private func withStack(environment: [String: String], _ body: (StackFixture) async throws -> Void) async throws {
        try await StackFixture.withStarted(environment: environment) { fixture, up in
            #expect(up.status == 0, "up -d: \(up.stdout)\n\(up.stderr)")
            try await body(fixture)
        }
    }

    /// PyPI's opentelemetry-proto behind a plain Python OTLP/HTTP receiver: `body` gets its port
    /// and reads what it received (one JSON object per span).
    private func withPythonReceiver(_ body: (_ port: String, _ received: @escaping () -> [ReceivedSpan]) async throws -> Void) async throws {
        let spansFile = NSTemporaryDirectory() + "devctl-otlp-\(UUID().uuidString.prefix(8)).jsonl"
        FileManager.default.createFile(atPath: spansFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: spansFile) }
        guard let python = Subprocess.findExecutable("python3") else { throw DevctlFailure("python3 is missing") }
        let receiver = try BackgroundProcess(python, [Self.peers + "/otlp_receiver.py", spansFile])
        defer { receiver.stopNow() }
        let port = try await receiver.firstLine()
        try await body(port) {
            let text = (try? String(contentsOfFile: spansFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(ReceivedSpan.self, from: Data($0.utf8)) }
        }
    }

    @Test func everySpanReachesAReceiverThatIsNotOurs() async throws {
        try await withPythonReceiver { port, received in
            let environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)", "OTEL_BSP_SCHEDULE_DELAY": "200"]
            try await withStack(environment: environment) { fixture in
                let secretName = "value-\(UUID().uuidString.prefix(8))"
                let bearer = try await token(fixture)
                let greet = try await greetThroughEdge(fixture, body: #"{"name":"\#(secretName)"}"#, token: bearer)
                #expect(greet.status == 200, "\(greet.body)")
                #expect(greet.headers["x-request-id"] == Self.traceID)

                func inTrace() -> [ReceivedSpan] { received().filter { $0.trace_id == Self.traceID } }
                // greeter (server, client, insert), caller (server, GET, insert), custom-lang: 7.
                #expect(await eventually(.seconds(20)) { inTrace().count >= 7 && inTrace().contains { $0.service == "custom-lang" } },
                        "spans: \(received().map { "\($0.service) \($0.name)" })")
                let spans = inTrace()
                func one(_ service: String, _ name: String, kind: Int) throws -> ReceivedSpan {
                    try #require(spans.first { $0.service == service && $0.name == name && $0.kind == kind },
                                 "no \(service) span \(name) (kind \(kind)) in \(spans.map { "\($0.service) \($0.name) \($0.kind)" })")
                }
                // OTLP span kinds: 2 server, 3 client.
                let greeterServer = try one("greeter", "greeter.v1.GreeterService/Greet", kind: 2)
                let greeterClient = try one("greeter", "caller.v1.CallerService/CallExternal", kind: 3)
                let callerServer = try one("caller", "caller.v1.CallerService/CallExternal", kind: 2)
                let callerGET = try one("caller", "GET", kind: 3)
                let customLang = try one("custom-lang", "GET /healthz", kind: 2)
                let greeterInsert = try one("greeter", "INSERT greetings", kind: 3)
                let callerInsert = try one("caller", "INSERT call_logs", kind: 3)
                // The chain: the client's span (kept by the edge) → greeter → its client → caller →
                // caller's GET → custom-lang.
                #expect(greeterServer.parent_span_id == Self.clientSpanID)
                #expect(greeterClient.parent_span_id == greeterServer.span_id)
                #expect(callerServer.parent_span_id == greeterClient.span_id)
                #expect(callerGET.parent_span_id == callerServer.span_id)
                #expect(customLang.parent_span_id == callerGET.span_id)
                #expect(greeterInsert.parent_span_id == greeterServer.span_id)
                #expect(callerInsert.parent_span_id == callerServer.span_id)
                #expect(greeterInsert.attributes["db.namespace"] == "greeter_db")
                #expect(callerInsert.attributes["db.namespace"] == "caller_db")
                #expect(greeterInsert.attributes["db.system"] == "postgresql")
                #expect(greeterInsert.attributes["db.query.text"]?.contains("$1") == true)
                #expect(greeterServer.attributes["rpc.system"] == "connect_rpc")
                #expect(greeterServer.attributes["rpc.service"] == "greeter.v1.GreeterService")
                #expect(greeterServer.attributes["rpc.method"] == "Greet")
                // Values never leave in a span: the name sent is in no attribute of any span.
                #expect(!received().contains { span in span.attributes.values.contains { $0.contains(secretName) } || span.name.contains(secretName) })

                // Log lines inside a request carry its trace.
                let logs = try await fixture.devctl(["logs", "greeter", "--tail", "50"])
                #expect(logs.stdout.contains(Self.traceID), "\(logs.stdout)")

                // A trace marked not sampled (what the edge sends beyond its budget): no service
                // records a span for it, yet its id reaches the next hop — greeter passes the
                // traceparent to caller — and their log lines (custom-lang logs no /healthz).
                let unsampledID = String(repeating: "5a", count: 16)
                let unsampled = try await fixture.request(.POST, "/greeter.v1.GreeterService/Greet", json: #"{"name":"unsampled"}"#,
                                                          headers: ["Authorization": "Bearer \(bearer)", "traceparent": "00-\(unsampledID)-\(Self.clientSpanID)-00"])
                #expect(unsampled.status == 200, "\(unsampled.body)")
                #expect(unsampled.headers["x-request-id"] == unsampledID)
                // A sampled Greet after it: once its spans are in, the unsampled one's would be too.
                let afterID = String(repeating: "6b", count: 16)
                let after = try await greetThroughEdge(fixture, body: #"{"name":"after"}"#, trace: afterID, token: bearer)
                #expect(after.status == 200, "\(after.body)")
                #expect(await eventually(.seconds(20)) { received().filter { $0.trace_id == afterID }.count >= 7 })
                #expect(!received().contains { $0.trace_id == unsampledID }, "\(received().filter { $0.trace_id == unsampledID })")
                for service in ["greeter", "caller"] {
                    var lines = ""
                    #expect(await eventually(.seconds(10)) {
                        lines = (try? await fixture.devctl(["logs", service, "--tail", "200"]).stdout) ?? ""
                        return lines.contains(unsampledID)
                    }, "\(service): \(lines)")
                }
            }
        }
    }

    /// devctl's own receiver: the same trace in `devctl traces`, as a waterfall and as JSON.
    @Test func devctlShowsTheTraceItself() async throws {
        try await withStack(environment: [:]) { fixture in
            let bearer = try await token(fixture)
            let greet = try await greetThroughEdge(fixture, body: #"{"name":"waterfall"}"#, token: bearer)
            #expect(greet.status == 200, "\(greet.body)")
            // An RPC error code makes an error span, though it is answered, not thrown.
            let failing = String(repeating: "ab", count: 16)
            let invalid = try await greetThroughEdge(fixture, body: #"{"name": 5}"#, trace: failing, token: bearer)
            #expect(invalid.status == 400, "\(invalid.body)")
            var shown = ""
            #expect(await eventually(.seconds(20)) {
                shown = (try? await fixture.devctl(["traces", String(Self.traceID.prefix(12))]).stdout) ?? ""
                return shown.contains("GET /healthz") && shown.contains("INSERT greetings") && shown.contains("INSERT call_logs")
            }, "\(shown)")
            try Golden.check(Self.masked(shown), against: Self.golden, group: "traces")

            let list = try await fixture.devctl(["traces", "--json", "--service", "custom-lang"])
            #expect(list.status == 0, "\(list.stderr)")
            let traces = try #require(DevctlProcess.json(list)["traces"] as? [[String: Any]])
            let greetTrace = try #require(traces.first { $0["traceID"] as? String == Self.traceID }, "\(list.stdout)")
            #expect(greetTrace["root"] as? String == "greeter.v1.GreeterService/Greet")
            #expect(Set(greetTrace["services"] as? [String] ?? []) == ["greeter", "caller", "custom-lang"])
            let nobody = try await fixture.devctl(["traces", "--json", "--service", "nobody"])
            #expect((try DevctlProcess.json(nobody)["traces"] as? [Any])?.isEmpty == true, "\(nobody.stdout)")

            var errors: [[String: Any]] = []
            #expect(await eventually(.seconds(20)) {
                errors = (try? DevctlProcess.json(await fixture.devctl(["traces", "--json", "--errors"]))["traces"] as? [[String: Any]]) ?? []
                return errors.contains { $0["traceID"] as? String == failing }
            })
            #expect(!errors.contains { $0["traceID"] as? String == Self.traceID })
            let failed = try DevctlProcess.json(await fixture.devctl(["traces", failing, "--json"]))
            let failedSpans = try #require(failed["spans"] as? [[String: Any]])
            let server = try #require(failedSpans.first { $0["name"] as? String == "greeter.v1.GreeterService/Greet" }, "\(failed)")
            #expect(server["status"] as? String == "error")
            #expect((server["attributes"] as? [String: String])?["rpc.connect_rpc.error_code"] == "invalid_argument")

            let missing = try await fixture.devctl(["traces", "0123456789abcdef0123456789abcdef"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("no trace 0123456789abcdef0123456789abcdef"))
            let bad = try await fixture.devctl(["traces", "--min-duration", "soon"])
            #expect(bad.status == 2)
        }
    }

    /// Ids, times and bars vary run to run; the tree, services, names and statuses must not.
    static func masked(_ text: String) -> String {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var masked = String(line)
            masked = masked.replacingOccurrences(of: #"[0-9a-f]{32}"#, with: "<trace>", options: .regularExpression)
            masked = masked.replacingOccurrences(of: #"\d+\.\d+ m?s"#, with: "<t>", options: .regularExpression)
            masked = masked.replacingOccurrences(of: #"\|[ █]+\|"#, with: "<bar>", options: .regularExpression)
            masked = masked.replacingOccurrences(of: #"127\.0\.0\.1:\d+"#, with: "127.0.0.1:<port>", options: .regularExpression)
            // Column widths follow the masked values; keep one space between columns.
            masked = masked.replacingOccurrences(of: #"(?<=\S)  +"#, with: "  ", options: .regularExpression)
            lines.append(masked)
        }
        return lines.joined(separator: "\n")
    }

    // MARK: One service, started by `devctl serve`

    private func serve(_ environment: [String: String]) throws -> (BackgroundProcess, Int) {
        let port = try FreePorts.take()
        var clean = DevctlProcess.cleanEnvironment(environment)
        clean["PORT"] = String(port)
        // No database needed for what these tests call (/healthz).
        clean["DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
        return (try BackgroundProcess(DevctlProcess.executable, ["serve", "custom-lang", "--no-config"], environment: clean), port)
    }

    private func healthz(_ port: Int, traced: Bool) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
        if traced { request.headers.add(name: "traceparent", value: "00-\(Self.traceID)-\(Self.clientSpanID)-01") }
        let response = try await StackFixture.http.execute(request, timeout: .seconds(5))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    /// A receiver that is down: the service keeps serving; the failed exports are one warning.
    @Test func aReceiverThatIsDownIsOneWarning() async throws {
        let closed = try ClosedPort()
        let (service, port) = try serve(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(closed.port)", "OTEL_BSP_SCHEDULE_DELAY": "100"])
        defer { service.stopNow() }
        #expect(await eventually(.seconds(20)) { (try? await healthz(port, traced: false)) == 200 })
        // Several batches, each failing (100 ms apart).
        for _ in 0..<8 {
            #expect(try await healthz(port, traced: true) == 200)
            try await Task.sleep(for: .milliseconds(150))
        }
        let errors = await service.stop()
        let warnings = errors.split(separator: "\n").filter { $0.contains("tracing:") }
        #expect(warnings.count == 1, "\(errors)")
        #expect(warnings.first?.contains("\"level\":\"warning\"") == true, "\(errors)")
    }

    /// The exporter stops last and flushes: a span still waiting for its batch (a minute's delay)
    /// reaches the receiver when the service is stopped gracefully.
    @Test func aGracefulStopFlushesWaitingSpans() async throws {
        try await withPythonReceiver { receiverPort, received in
            let (service, port) = try serve(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(receiverPort)", "OTEL_BSP_SCHEDULE_DELAY": "60000"])
            defer { service.stopNow() }
            #expect(await eventually(.seconds(20)) { (try? await healthz(port, traced: false)) == 200 })
            #expect(try await healthz(port, traced: true) == 200)
            try await Task.sleep(for: .milliseconds(300))
            #expect(received().isEmpty, "exported before the batch delay")
            await service.stop()
            #expect(received().contains { $0.trace_id == Self.traceID && $0.name == "GET /healthz" }, "\(received().map(\.name))")
        }
    }

    /// Off (endpoint unset or empty): nothing is exported and nothing is said about it.
    @Test(arguments: [nil, ""] as [String?])
    func offSaysAndSendsNothing(endpoint: String?) async throws {
        let (service, port) = try serve(endpoint.map { ["OTEL_EXPORTER_OTLP_ENDPOINT": $0, "OTEL_BSP_SCHEDULE_DELAY": "100"] } ?? [:])
        defer { service.stopNow() }
        #expect(await eventually(.seconds(20)) { (try? await healthz(port, traced: false)) == 200 })
        #expect(try await healthz(port, traced: true) == 200)
        try await Task.sleep(for: .milliseconds(300))
        let errors = await service.stop()
        #expect(!errors.lowercased().contains("tracing") && !errors.lowercased().contains("otel") && !errors.contains("trace_id"), "\(errors)")
    }

    /// Values the SDK would crash on stop the start-up with the variable named: exit 2.
    @Test(arguments: [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_PROPAGATORS", "tracecontext,baggage"),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"),
    ])
    func badValuesStopTheStartWithExit2(variable: String, value: String) async throws {
        var environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"]
        environment[variable] = value
        environment["PORT"] = String(try FreePorts.take())
        let output = try await DevctlProcess.run(["serve", "custom-lang", "--no-config"], in: NSTemporaryDirectory(), environment: environment)
        #expect(output.status == 2, "\(output.stdout)\n\(output.stderr)")
        #expect(output.stderr.contains(variable), "\(output.stderr)")
    }
}
