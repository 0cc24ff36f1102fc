import AsyncHTTPClient
import ConnectRPC
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import Protos
@testable import Services
import Testing

/// gateway → custom-lang (the real one, and a fake for statuses custom-lang never sends).
@Suite struct GatewayServiceTests {
    typealias Fixture = ServiceDatabaseFixture

    static func withGateway(_ fixture: Fixture, customLangURL: String, authURL: String = Live.deadURL(), breakerOpen: String = "30s",
                            clock: ManualClock? = nil,
                            _ body: @escaping @Sendable (Gateway_V1_GatewayServiceClient) async throws -> Void) async throws {
        let environment = ["DATABASE_URL": fixture.url(Fixture.gateway), "CUSTOM_LANG_BASE_URL": customLangURL, "AUTH_BASE_URL": authURL,
                           "BREAKER_OPEN_DURATION": breakerOpen, "GATEWAY_TIMEOUT": "5s"]
        let platform = try ServicePlatform(settings: GatewayService.settings(environment: environment), logger: Live.logger("gateway"))
        let now: @Sendable () -> ContinuousClock.Instant
        if let clock { now = { clock.now } } else { now = { .now } }
        let gateway = try GatewayService(platform: platform, clock: now)
        try await Live.serve(platform, routes: gateway.addRoutes(to:)) { url in
            try await body(Gateway_V1_GatewayServiceClient(client: ConnectClient(baseURL: url, codec: .json)))
        }
    }

    static func withCustomLang(_ fixture: Fixture, _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let platform = try ServicePlatform(settings: CustomLangService.settings(environment: ["DATABASE_URL": fixture.url(Fixture.customLang)]), logger: Live.logger("custom-lang"))
        try await Live.serve(platform, routes: CustomLangService(platform: platform).addRoutes(to:), body)
    }

    static func invoke(_ gateway: Gateway_V1_GatewayServiceClient, _ name: String) async -> ConnectCode? {
        await ConnectError.code { _ = try await gateway.invokeCustom(.with { $0.name = name }) }
    }

    @Test func customLangAnswersMapToConnectCodesAndEveryInvocationIsStored() async throws {
        try await Fixture.with([Fixture.gateway, Fixture.customLang]) { fixture in
            try await Self.withCustomLang(fixture) { customLang in
                try await Self.withGateway(fixture, customLangURL: customLang) { gateway in
                    #expect(try await gateway.invokeCustom(.with { $0.name = "Ada" }).message == "Hello Ada from custom-lang-service!")
                    let expected: [(String, ConnectCode)] = [
                        ("unauthorized", .unauthenticated), ("forbidden", .permissionDenied), ("notfound", .notFound),
                        ("conflict", .alreadyExists), ("ratelimit", .resourceExhausted), ("unavailable", .unavailable),
                    ]
                    for (name, code) in expected {
                        #expect(await Self.invoke(gateway, name) == code, "\(name)")
                        _ = try await gateway.invokeCustom(.with { $0.name = "ok" }) // keeps the breaker closed
                    }
                    #expect(try await fixture.scalar("SELECT count(*) FROM invocations", in: Fixture.gateway) == "13")
                    #expect(try await fixture.scalar("SELECT count(*) FROM invocations WHERE success", in: Fixture.gateway) == "7")
                    #expect(try await fixture.scalar("SELECT code || ':' || http_status || ':' || attempts FROM invocations WHERE name = 'notfound'", in: Fixture.gateway) == "not_found:404:1")
                    // 429 and 503 are retried once.
                    #expect(try await fixture.scalar("SELECT attempts FROM invocations WHERE name = 'unavailable'", in: Fixture.gateway) == "2")
                    #expect(try await fixture.scalar("SELECT count(*) FROM executions WHERE name = 'ratelimit'", in: Fixture.customLang) == "2")

                    let overview = try await gateway.getOverview(.init())
                    #expect(overview.supportedLanguages == ["de", "en", "es", "fr", "ja"])
                    #expect(overview.defaultLanguage == "en")
                    #expect(overview.services.map(\.name) == ["auth", "custom-lang"])
                    #expect(overview.services.map(\.healthy) == [false, true])
                }
            }
        }
    }

    /// WatchInvocations streams what any gateway process stores (two gateways, one database:
    /// the watcher's gateway never sees the other's calls except through PostgreSQL). A broken
    /// listening connection ends the stream with unavailable rather than going silent.
    @Test func watchersSeeInvocationsStoredByAnyGatewayProcess() async throws {
        try await Fixture.with([Fixture.gateway, Fixture.customLang]) { fixture in
            try await Self.withCustomLang(fixture) { customLang in
                try await Self.withGateway(fixture, customLangURL: customLang) { watched in
                    try await Self.withGateway(fixture, customLangURL: customLang) { other in
                        var invocations = watched.watchInvocations(.init(), timeout: .seconds(30)).makeAsyncIterator()
                        // LISTEN takes effect just after the stream opens: call until the watcher sees a call.
                        let prober = Task {
                            while !Task.isCancelled {
                                _ = try? await watched.invokeCustom(.with { $0.name = "probe" })
                                try? await Task.sleep(for: .milliseconds(100))
                            }
                        }
                        let first = try await invocations.next()
                        prober.cancel()
                        await prober.value
                        #expect(first?.name == "probe")

                        _ = try await other.invokeCustom(.with { $0.name = "from the other gateway" })
                        #expect(await Self.invoke(other, "notfound") == .notFound)
                        var seen: [Gateway_V1_Invocation] = []
                        while seen.count < 2, let invocation = try await invocations.next() {
                            if invocation.name != "probe" { seen.append(invocation) }
                        }
                        #expect(seen.map(\.name) == ["from the other gateway", "notfound"])
                        #expect(seen.first?.success == true && seen.first?.code == "ok" && seen.first?.httpStatus == 200)
                        #expect(seen.first?.message == "Hello from the other gateway from custom-lang-service!")
                        #expect(seen.last?.success == false && seen.last?.code == "not_found" && seen.last?.httpStatus == 404 && seen.last?.attempts == 1)
                        #expect(seen.first?.createdAt.hasSuffix("Z") == true)
                        let storedID = try await fixture.scalar("SELECT id FROM invocations WHERE name = 'from the other gateway'", in: Fixture.gateway)
                        #expect(seen.first?.id == storedID)

                        // The listening connection dies: the stream ends with unavailable, not silence.
                        _ = try await fixture.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'", in: Fixture.gateway)
                        let broken = await #expect(throws: ConnectError.self) {
                            while let invocation = try await invocations.next() { _ = invocation }
                        }
                        #expect(broken?.code == .unavailable, "\(String(describing: broken))")
                    }
                }
            }
        }
    }

    @Test func everyStatusInTheTableMapsAndOnlyWhatIsSafeToRepeatIsRetried() async throws {
        try await Fixture.with([Fixture.gateway]) { fixture in
            let fake = TargetServer()
            try await fake.run { url, _ in
                try await Self.withGateway(fixture, customLangURL: url) { gateway in
                    let table: [(Int, ConnectCode, Int)] = [
                        (400, .invalidArgument, 1), (401, .unauthenticated, 1), (403, .permissionDenied, 1), (404, .notFound, 1),
                        (409, .alreadyExists, 1), (429, .resourceExhausted, 2), (502, .unavailable, 1), (503, .unavailable, 2),
                        (504, .deadlineExceeded, 1), (500, .internal, 1),
                    ]
                    for (status, code, requests) in table {
                        let before = fake.hits.withLockedValue { $0 }
                        #expect(await Self.invoke(gateway, "status-\(status)") == code, "\(status)")
                        #expect(fake.hits.withLockedValue { $0 } - before == requests, "\(status) was sent \(fake.hits.withLockedValue { $0 } - before) times")
                        _ = try await gateway.invokeCustom(.with { $0.name = "ok" })
                    }
                }
            }
            // Nothing listens: unavailable, retried once.
            try await Self.withGateway(fixture, customLangURL: Live.deadURL()) { gateway in
                #expect(await Self.invoke(gateway, "Ada") == .unavailable)
            }
            #expect(try await fixture.scalar("SELECT attempts FROM invocations WHERE name = 'Ada'", in: Fixture.gateway) == "2")
        }
    }

    @Test func breakerOpensAfterFiveFailuresAndClosesAfterThreeTrials() async throws {
        try await Fixture.with([Fixture.gateway]) { fixture in
            let fake = TargetServer()
            let clock = ManualClock()
            try await fake.run { url, _ in
                // The breaker's time is a manual clock: "30 s later" without waiting 30 s.
                try await Self.withGateway(fixture, customLangURL: url, breakerOpen: "30s", clock: clock) { gateway in
                    for _ in 0..<5 { #expect(await Self.invoke(gateway, "status-500") == .internal) }
                    let sent = fake.hits.withLockedValue { $0 }
                    // Open: answered at once, custom-lang not contacted, even 29 s later.
                    #expect(await Self.invoke(gateway, "Ada") == .unavailable)
                    clock.advance(by: .seconds(29))
                    #expect(await Self.invoke(gateway, "Ada") == .unavailable)
                    #expect(fake.hits.withLockedValue { $0 } == sent)
                    clock.advance(by: .seconds(2))
                    // Half-open: three trials succeed → closed.
                    for _ in 0..<3 { _ = try await gateway.invokeCustom(.with { $0.name = "trial" }) }
                    for _ in 0..<4 { #expect(await Self.invoke(gateway, "status-500") == .internal) }
                    _ = try await gateway.invokeCustom(.with { $0.name = "still closed" })
                    // A failed trial re-opens it.
                    for _ in 0..<5 { _ = await Self.invoke(gateway, "status-500") }
                    clock.advance(by: .seconds(31))
                    #expect(await Self.invoke(gateway, "status-500") == .internal)
                    #expect(await Self.invoke(gateway, "Ada") == .unavailable)
                }
            }
            #expect(try await fixture.scalar("SELECT count(*) FROM invocations WHERE attempts = 0 AND code = 'unavailable'", in: Fixture.gateway) == "3")
        }
    }

    @Test func retriesStopWhenTheGatewaysRetryBudgetIsSpent() async throws {
        try await Fixture.with([Fixture.gateway]) { fixture in
            let fake = TargetServer()
            try await fake.run { url, _ in
                try await Self.withGateway(fixture, customLangURL: url) { gateway in
                    // 503 then a success, over and over: each 503 wants a retry, each success keeps
                    // the breaker closed. The budget (the gateway's own) runs dry and retries stop.
                    var sentPer503: [Int] = []
                    for _ in 0..<30 {
                        let before = fake.hits.withLockedValue { $0 }
                        _ = await Self.invoke(gateway, "status-503")
                        sentPer503.append(fake.hits.withLockedValue { $0 } - before)
                        _ = try await gateway.invokeCustom(.with { $0.name = "ok" })
                    }
                    // The same sequence on a fresh budget with the gateway's parameters.
                    let model = RetryBudget()
                    var expected: [Int] = []
                    for _ in 0..<30 {
                        model.deposit()
                        expected.append(model.withdraw() ? 2 : 1)
                        model.deposit()
                    }
                    #expect(sentPer503 == expected)
                    #expect(expected.first == 2 && expected.last == 1)
                }
            }
        }
    }

    @Test func callersShortDeadlinesDoNotOpenTheBreakerForEveryone() async throws {
        try await Fixture.with([Fixture.gateway]) { fixture in
            let fake = TargetServer()
            try await fake.run { url, _ in
                try await Self.withGateway(fixture, customLangURL: url) { gateway in
                    // Raw requests: the Swift client would give up on its own side before sending.
                    for _ in 0..<8 {
                        var request = HTTPClientRequest(url: gateway.client.baseURL + "/gateway.v1.GatewayService/InvokeCustom")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.headers.add(name: "Connect-Timeout-Ms", value: "1")
                        request.body = .bytes(ByteBuffer(string: #"{"name":"slow-50"}"#))
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                        let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                        #expect(body.contains("deadline_exceeded"), "\(body)")
                    }
                    #expect(try await gateway.invokeCustom(.with { $0.name = "Ada" }).message == "Hello Ada from fake")
                }
            }
        }
    }

    @Test func aTimedOutInvocationIsNotSentTwice() async throws {
        try await Fixture.with([Fixture.gateway]) { fixture in
            let fake = TargetServer()
            try await fake.run { url, _ in
                let environment = ["DATABASE_URL": fixture.url(Fixture.gateway), "CUSTOM_LANG_BASE_URL": url, "AUTH_BASE_URL": Live.deadURL(),
                                   "GATEWAY_TIMEOUT": "1s"]
                let platform = try ServicePlatform(settings: GatewayService.settings(environment: environment), logger: Live.logger("gateway"))
                let service = try GatewayService(platform: platform)
                try await Live.serve(platform, routes: service.addRoutes(to:)) { base in
                    let gateway = Gateway_V1_GatewayServiceClient(client: ConnectClient(baseURL: base, codec: .json))
                    // A budget long enough for the first POST to arrive on a loaded machine (with
                    // 300 ms it sometimes did not, and nothing was left to see twice).
                    #expect(await Self.invoke(gateway, "slow-4000") == .deadlineExceeded)
                    try await Task.sleep(for: .milliseconds(2500)) // a retry would have arrived by now
                    #expect(fake.hits.withLockedValue { $0 } == 1)
                }
            }
            #expect(try await fixture.scalar("SELECT attempts FROM invocations WHERE name = 'slow-4000'", in: Fixture.gateway) == "1")
        }
    }

    @Test func breakerStateMachine() {
        let breaker = CircuitBreaker(name: "unit", failureThreshold: 5, openDuration: .seconds(30), halfOpenTrials: 3)
        let start = ContinuousClock.now
        for _ in 0..<4 { breaker.record(success: false, now: start) }
        breaker.record(success: true, now: start)
        #expect(breaker.current == .closed(consecutiveFailures: 0))
        for _ in 0..<5 { breaker.record(success: false, now: start) }
        #expect(breaker.admit(now: start + .seconds(29)) == .rejected(retryAfter: .seconds(1)))
        let later = start + .seconds(30)
        #expect(breaker.admit(now: later) == .admitted)
        #expect(breaker.admit(now: later) == .admitted)
        #expect(breaker.admit(now: later) == .admitted)
        #expect(breaker.admit(now: later) == .rejected(retryAfter: .zero))
        breaker.record(success: true, now: later)
        breaker.record(success: true, now: later)
        breaker.record(success: true, now: later)
        #expect(breaker.current == .closed(consecutiveFailures: 0))
    }

    @Test func retryBudgetBoundsRetriesToAShareOfTraffic() {
        let budget = RetryBudget(capacity: 2, depositPerRequest: 0.25)
        #expect(budget.withdraw() && budget.withdraw())
        #expect(!budget.withdraw())
        for _ in 0..<4 { budget.deposit() }
        #expect(budget.withdraw())
        #expect(!budget.withdraw())
        for _ in 0..<100 { budget.deposit() }
        #expect(budget.available == 2)
    }
}

/// A clock that moves only when told to (injected where behaviour depends on time).
final class ManualClock: Sendable {
    private let offset = NIOLockedValueBox(Duration.zero)
    private let base = ContinuousClock.now

    var now: ContinuousClock.Instant { base.advanced(by: offset.withLockedValue { $0 }) }

    func advance(by duration: Duration) {
        offset.withLockedValue { $0 += duration }
    }
}
