import ConnectRPC
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Protos
import Services
import Testing

/// What the platform promises to operators: one log line per request with the fields to find it
/// (never headers or bodies), and Prometheus metrics whose values move as calls happen.
@Suite struct PlatformObservabilityTests {
    /// A platform without a database, with a Connect procedure only the calling test uses (the
    /// metrics registry is process-wide: a unique procedure keeps parallel tests out of the counts).
    static func withProbe(_ logs: CapturedLogs, procedure: String, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let platform = try ServicePlatform(settings: ServiceSettings(name: "probe", defaultPort: 1, defaultDatabase: nil, environment: [:]), logger: logs.logger())
        let router = platform.makeRouter()
        router.connectUnary(procedure, input: Greeter_V1_GreetRequest.self) { request, _ in
            if request.name == "missing" { throw ConnectError(.notFound, "no such thing") }
            return Greeter_V1_GreetResponse.with { $0.message = "hi" }
        }
        try await platform.makeApplication(router: router).test(.router) { client in try await body(client) }
    }

    static func call(_ client: any TestClientProtocol, _ procedure: String, name: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return try await client.execute(uri: procedure, method: .post, headers: headers, body: ByteBuffer(string: #"{"name":"\#(name)"}"#))
    }

    /// `name{label="value",…} number` lines of the exposition text, as (labels, value).
    static func samples(_ text: String, _ name: String) -> [([String: String], Double)] {
        text.split(separator: "\n").compactMap { line -> ([String: String], Double)? in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), let space = line.lastIndex(of: " "),
                  let value = Double(line[line.index(after: space)...]) else { return nil }
            var labels: [String: String] = [:]
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                for pair in line[line.index(after: open)..<close].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { labels[String(parts[0])] = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
                }
            }
            return (labels, value)
        }
    }

    @Test func oneLogLinePerRequestWithItsIdentifiersAndNoSecrets() async throws {
        let logs = CapturedLogs()
        let procedure = "/test.v1.ObservabilityProbe/Logged"
        try await Self.withProbe(logs, procedure: procedure) { client in
            _ = try await Self.call(client, procedure, name: "hunter2-in-the-body", headers: [.authorization: "Bearer SECRET-TOKEN-123"])
            _ = try await Self.call(client, procedure, name: "missing")
        }
        let requests = logs.entries.filter { $0.message == "request" }
        #expect(requests.count == 2)
        for entry in requests {
            #expect(entry.level == .info)
            #expect(entry.metadata["route"].map { "\($0)" } == procedure)
            #expect(entry.metadata["procedure"].map { "\($0)" } == procedure)
            #expect(entry.metadata["hb.request.id"] != nil || entry.metadata["request_id"] != nil, "\(entry.metadata)")
            #expect(entry.metadata["duration_ms"] != nil)
        }
        #expect(requests.map { $0.metadata["code"].map { "\($0)" } ?? "" } == ["ok", "not_found"])
        #expect(requests.map { $0.metadata["status"].map { "\($0)" } ?? "" } == ["200", "404"])
        // Nothing of the headers or the bodies, anywhere in any line.
        let everything = logs.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(!everything.contains("SECRET-TOKEN-123"))
        #expect(!everything.contains("hunter2"))
    }

    @Test func rpcMetricsCountEachCallByProcedureAndCode() async throws {
        let logs = CapturedLogs()
        let procedure = "/test.v1.ObservabilityProbe/Counted"
        try await Self.withProbe(logs, procedure: procedure) { client in
            for name in ["a", "b", "missing"] { _ = try await Self.call(client, procedure, name: name) }
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            let calls = Self.samples(text, "connect_rpc_requests_total").filter { $0.0["procedure"] == procedure }
            #expect(calls.first { $0.0["code"] == "ok" }?.1 == 2, "\(calls)")
            #expect(calls.first { $0.0["code"] == "not_found" }?.1 == 1, "\(calls)")
            let durations = Self.samples(text, "connect_rpc_duration_seconds_count").filter { $0.0["procedure"] == procedure }
            #expect(durations.first?.1 == 3, "\(durations)")
            #expect(Self.samples(text, "db_pool_max_connections").first?.1 == Double(ServiceSettings.defaultDatabasePoolMaximum))
        }
    }

    @Test func httpMetricsCountEachRequestByRouteMethodAndStatus() async throws {
        let logs = CapturedLogs()
        let procedure = "/test.v1.ObservabilityProbe/Routed"
        try await Self.withProbe(logs, procedure: procedure) { client in
            for name in ["a", "missing", "missing"] { _ = try await Self.call(client, procedure, name: name) }
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            let requests = Self.samples(text, "hb_requests").filter { $0.0["http_route"] == procedure }
            #expect(requests.first { $0.0["http_response_status_code"] == "200" && $0.0["http_request_method"] == "POST" }?.1 == 1, "\(requests)")
            #expect(requests.first { $0.0["http_response_status_code"] == "404" }?.1 == 2, "\(requests)")
            let durations = Self.samples(text, "http_server_request_duration_count").filter { $0.0["http_route"] == procedure }
            #expect(durations.map(\.1).reduce(0, +) == 3, "\(durations)")
        }
    }

    @Test func poolSizeSettingsAreCheckedAndDefaultToAWholePool() {
        let defaults = ServiceSettings(name: "probe", defaultPort: 1, defaultDatabase: nil, environment: [:])
        #expect(defaults.databasePoolMaximum == 10)
        #expect(defaults.databasePoolMinimum == defaults.databasePoolMaximum)
        let sized = ServiceSettings(name: "probe", defaultPort: 1, defaultDatabase: nil, environment: ["DB_POOL_MAX": "4", "DB_POOL_MIN": "1"])
        #expect(sized.databasePoolMaximum == 4 && sized.databasePoolMinimum == 1 && sized.invalidValues.isEmpty)
        for (key, value) in [("DB_POOL_MAX", "0"), ("DB_POOL_MAX", "many"), ("DB_POOL_MIN", "1001"), ("DB_POOL_MIN", "-1")] {
            let bad = ServiceSettings(name: "probe", defaultPort: 1, defaultDatabase: nil, environment: [key: value])
            #expect(bad.invalidValues.contains { $0.hasPrefix(key) }, "\(key)=\(value): \(bad.invalidValues)")
        }
    }
}
