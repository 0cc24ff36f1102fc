import ConnectRPC
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Services
import Testing

@Suite struct CustomLangServiceTests {
    private func withService(_ body: @escaping @Sendable (any TestClientProtocol, ServiceDatabaseFixture) async throws -> Void) async throws {
        try await ServiceDatabaseFixture.with(service: "custom-lang", database: "lang_db", migrations: "Sources/Services/CustomLang/Migrations") { fixture in
            var logger = Logger(label: "custom-lang-test")
            logger.logLevel = .warning
            let platform = try ServicePlatform(
                settings: CustomLangService.settings(environment: ["DATABASE_URL": fixture.databaseURL, "MAX_BODY_BYTES": "4096"]),
                logger: logger
            )
            let router = platform.makeRouter()
            CustomLangService(platform: platform).addRoutes(to: router)
            try await platform.makeApplication(router: router).test(.router) { client in
                await Live.warmUp(platform)
                try await body(client, fixture)
            }
        }
    }

    private func object(_ response: TestResponse) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any] ?? [:]
    }

    private func invoke(_ client: any TestClientProtocol, _ json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/json"
        return try await client.execute(uri: "/invoke", method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    @Test func greetsInTheRequestedLanguage() async throws {
        try await withService { client, _ in
            let english = try await invoke(client, #"{"name":"Ada"}"#)
            #expect(english.status == .ok)
            #expect(try object(english)["message"] as? String == "Hello Ada from custom-lang-service!")
            #expect(try object(try await invoke(client, #"{"name":"Ada","lang":"es"}"#))["message"] as? String == "¡Hola Ada desde custom-lang-service!")
            let french = try await invoke(client, #"{"name":"Ada"}"#, headers: [.acceptLanguage: "fr-CA,fr;q=0.9,en;q=0.5"])
            #expect(try object(french)["lang"] as? String == "fr")
            #expect(try object(try await invoke(client, #"{"name":"Ada","lang":"xx"}"#))["lang"] as? String == "en")
            #expect(try object(try await invoke(client, #"{}"#))["message"] as? String == "Hello World from custom-lang-service!")
            let languages = try await client.execute(uri: "/api/lang", method: .get)
            #expect(try object(languages)["languages"] as? [String] == ["de", "en", "es", "fr", "ja"])
        }
    }

    @Test func seedTestNamesFailWithTheirStatus() async throws {
        try await withService { client, _ in
            let expected: [String: HTTPResponse.Status] = [
                "unauthorized": .unauthorized, "forbidden": .forbidden, "notfound": .notFound,
                "conflict": .conflict, "ratelimit": .tooManyRequests, "unavailable": .serviceUnavailable,
            ]
            for (name, status) in expected {
                let response = try await invoke(client, #"{"name":"\#(name)"}"#)
                #expect(response.status == status, "\(name)")
                #expect(try object(response)["error"] is String, "\(name)")
            }
        }
    }

    @Test func everyExecutionIsStoredLiterally() async throws {
        try await withService { client, fixture in
            let hostile = "Robert'); DROP TABLE executions;--"
            _ = try await invoke(client, #"{"name":"\#(hostile)"}"#)
            _ = try await invoke(client, #"{"name":"notfound"}"#)
            let rows = try await fixture.manager.status()
            #expect(rows.upToDate)
            let response = try await invoke(client, #"{"name":"again"}"#)
            #expect(response.status == .ok)
            // The table survived the hostile name, which was stored as written.
            let stored = try await Self.query(fixture, "SELECT string_agg(name || ':' || status_code, '|' ORDER BY created_at) FROM executions")
            #expect(stored == "\(hostile):200|notfound:404|again:200")
        }
    }

    /// Through the edge a request says who calls (X-User-Id from the token): only their own.
    @Test func aCallerOnlyReadsAndWritesTheirOwnPreference() async throws {
        try await withService { client, _ in
            let user: HTTPField.Name = try #require(HTTPField.Name("X-User-Id"))
            let json: HTTPFields = [.contentType: "application/json", user: "u2"]
            let other = try await client.execute(uri: "/api/lang/preferences/u3", method: .put, headers: json, body: ByteBuffer(string: #"{"lang":"de"}"#))
            #expect(other.status == .forbidden)
            #expect(try await client.execute(uri: "/api/lang/preferences/u3", method: .get, headers: [user: "u2"]).status == .forbidden)
            #expect(try await client.execute(uri: "/api/lang/preferences/u3", method: .get).status == .notFound, "the refused write stored nothing")
            let own = try await client.execute(uri: "/api/lang/preferences/u2", method: .put, headers: json, body: ByteBuffer(string: #"{"lang":"de"}"#))
            #expect(own.status == .ok)
            #expect(try object(try await client.execute(uri: "/api/lang/preferences/u2", method: .get, headers: [user: "u2"]))["lang"] as? String == "de")
        }
    }

    @Test func preferencesRoundTripAndRejectUnknownLanguages() async throws {
        try await withService { client, _ in
            let missing = try await client.execute(uri: "/api/lang/preferences/u1", method: .get)
            #expect(missing.status == .notFound)
            let saved = try await client.execute(uri: "/api/lang/preferences/u1", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"lang":"JA"}"#))
            #expect(saved.status == .ok)
            let read = try await client.execute(uri: "/api/lang/preferences/u1", method: .get)
            #expect(try object(read)["lang"] as? String == "ja")
            let bad = try await client.execute(uri: "/api/lang/preferences/u1", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"lang":"klingon"}"#))
            #expect(bad.status == .badRequest)
            let malformed = try await client.execute(uri: "/api/lang/preferences/u1", method: .put, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{"))
            #expect(malformed.status == .badRequest)
            let huge = try await invoke(client, #"{"name":"\#(String(repeating: "a", count: 8000))"}"#)
            #expect(huge.status == .contentTooLarge)
        }
    }

    @Test func healthReadinessMetricsAndDatabaseRecovery() async throws {
        try await withService { client, fixture in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            // The pool's first connection (SCRAM in a debug build, under a parallel test load)
            // may take longer than the check's own 1 s: allow a few tries.
            var readyAtStart = false
            for _ in 0..<10 where !readyAtStart {
                readyAtStart = try await client.execute(uri: "/readyz", method: .get).status == .ok
            }
            #expect(readyAtStart)
            _ = try await invoke(client, #"{"name":"Ada"}"#)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(String(buffer: metrics.body).contains("http_server_request"), "\(String(buffer: metrics.body).prefix(400))")

            _ = try await fixture.manager.stopServer()
            // Answered, not hung: the platform's budget is 3 s; 10 s here leaves room for a loaded
            // machine while a request that waits on the dead pool would still fail the test.
            let answered = try await withTimeout(.seconds(10), {
                (try await client.execute(uri: "/readyz", method: .get).status, try await invoke(client, #"{"name":"Ada"}"#).status)
            }, onTimeout: { TestFailure("a request hung while the database was down") })
            #expect(answered.0 == .serviceUnavailable)
            #expect(answered.1 == .serviceUnavailable)
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)

            _ = try await fixture.manager.startServer()
            // The pool reconnects by itself: no restart of the service.
            var ready = false
            let clock = ContinuousClock()
            let restarted = clock.now
            // The pool retries with backoff (and may have tripped its breaker): allow it 20 s.
            while !ready, clock.now - restarted < .seconds(20) {
                ready = try await client.execute(uri: "/readyz", method: .get).status == .ok
                if !ready { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(ready)
            #expect(try await invoke(client, #"{"name":"Ada"}"#).status == .ok)
        }
    }

    static func query(_ fixture: ServiceDatabaseFixture, _ sql: String) async throws -> String? {
        try await fixture.manager.scalar(sql, in: "lang_db")
    }
}

/// Collects log lines in memory, for tests of what a service logs.
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [(Logger.Level, String, Logger.Metadata)] = []

    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        lock.withLock { lines.append((level, message, metadata)) }
    }

    var entries: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lock.withLock { lines } }

    func logger(level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: "captured") { _ in Handler(sink: self) }
        logger.logLevel = level
        return logger
    }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.append(event.level, event.message.description, metadata.merging(event.metadata ?? [:]) { $1 })
        }
    }
}

@Suite struct RequestLogLevelTests {
    @Test func probesAndScrapesLogAtDebugRealRequestsAtInfo() async throws {
        try await ServiceDatabaseFixture.with([ServiceDatabaseFixture.customLang]) { fixture in
            let logs = CapturedLogs()
            let platform = try ServicePlatform(settings: CustomLangService.settings(environment: ["DATABASE_URL": fixture.url(ServiceDatabaseFixture.customLang)]),
                                               logger: logs.logger(level: .info))
            let service = try await CustomLangService.make(platform: platform)
            let router = platform.makeRouter()
            service.addRoutes(to: router)
            try await platform.makeApplication(router: router).test(.router) { client in
                for path in ["/healthz", "/readyz", "/metrics", "/healthz"] {
                    _ = try await client.execute(uri: path, method: .get)
                }
                _ = try await client.execute(uri: "/api/lang", method: .get)
            }
            let requests = logs.entries.filter { $0.message == "request" }
            #expect(requests.map { $0.metadata["route"].map { "\($0)" } ?? "?" } == ["/api/lang"])
        }
    }
}

@Suite struct PlatformWithoutDatabaseTests {
    @Test func aServiceWithoutADatabaseNeedsNoURLAndIsReady() async throws {
        let settings = ServiceSettings(name: "plain", defaultPort: 1, defaultDatabase: nil, environment: [:])
        #expect(!settings.usesDatabase && settings.invalidValues.isEmpty)
        let platform = try ServicePlatform(settings: settings, logger: CapturedLogs().logger())
        try await platform.makeApplication(router: platform.makeRouter()).test(.router) { client in
            let response = try await client.execute(uri: "/readyz", method: .get)
            #expect(response.status == .ok)
        }
        // One that has a database must be told where it is.
        #expect(ServiceSettings(name: "db", defaultPort: 1, defaultDatabase: "db", environment: [:]).invalidValues.first?.hasPrefix("DATABASE_URL is not set") == true)
    }
}
