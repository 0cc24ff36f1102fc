import AsyncHTTPClient
import ConnectRPC
import Database
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import DevctlCore
import Foundation
import PostgresNIO
import Protos
@testable import Services
import Testing

/// greeter → caller → a local HTTP target, on real sockets, with real databases.
@Suite struct GreeterCallerTests {
    typealias Fixture = ServiceDatabaseFixture

    /// caller on a free port, allowed to reach `allowed`; `body` gets its base URL.
    static func withCaller(_ fixture: Fixture, allowed: String, extra: [String: String] = [:], _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let environment = ["DATABASE_URL": fixture.url(Fixture.caller), "CALLER_ALLOWED_HOSTS": allowed].merging(extra) { $1 }
        let platform = try ServicePlatform(settings: CallerService.settings(environment: environment), logger: Live.logger("caller"))
        let caller = try CallerService(platform: platform)
        try await Live.serve(platform, routes: caller.addRoutes(to:), body)
    }

    static func withGreeter(_ fixture: Fixture, callerURL: String, externalURL: String, callerTimeout: String = "10s", callerProtocol: String = "connect",
                            _ body: @escaping @Sendable (Greeter_V1_GreeterServiceClient) async throws -> Void) async throws {
        let environment = ["DATABASE_URL": fixture.url(Fixture.greeter), "CALLER_BASE_URL": callerURL, "EXTERNAL_API_URL": externalURL,
                           "CALLER_TIMEOUT": callerTimeout, "CALLER_PROTOCOL": callerProtocol]
        let platform = try ServicePlatform(settings: GreeterService.settings(environment: environment), logger: Live.logger("greeter"))
        let greeter = try GreeterService(platform: platform)
        try await Live.serve(platform, routes: greeter.addRoutes(to:)) { url in
            try await body(Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: url, codec: .json)))
        }
    }

    static func callerClient(_ url: String) -> Caller_V1_CallerServiceClient {
        Caller_V1_CallerServiceClient(client: ConnectClient(baseURL: url))
    }

    @Test func greetCallsCallerAndStoresTheGreetingBeforeReplying() async throws {
        try await Fixture.with([Fixture.greeter, Fixture.caller]) { fixture in
            try await TargetServer().run { target, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/ok") { greeter in
                        let reply = try await greeter.greet(.with { $0.name = "Ada" })
                        #expect(reply.message == "Hello Ada!")
                        #expect(reply.externalStatus == 200)
                        #expect(reply.externalBodyLength == 1234)
                        // The acknowledged greeting is already in the database.
                        #expect(try await fixture.scalar("SELECT count(*) FROM greetings WHERE name = 'Ada' AND external_body_length = 1234", in: Fixture.greeter) == "1")
                        #expect(try await greeter.greet(.init()).message == "Hello World!")

                        let hostile = "Robert'); DROP TABLE greetings;--"
                        #expect(try await greeter.greet(.with { $0.name = hostile }).message == "Hello \(hostile)!")
                        #expect(try await fixture.scalar("SELECT name FROM greetings WHERE message = 'Hello Robert''); DROP TABLE greetings;--!'", in: Fixture.greeter) == hostile)
                        #expect(try await fixture.scalar("SELECT count(*) FROM greetings", in: Fixture.greeter) == "3")
                        #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE status_code = 200 AND body_length = 1234", in: Fixture.caller) == "3")
                    }
                }
            }
        }
    }

    /// CALLER_PROTOCOL=grpc-web and grpc (h2c): the same chain, greeter speaking that protocol to
    /// caller (errors and deadlines map the same); a protocol it does not speak stops start-up.
    @Test func greeterCanCallCallerOverGRPCWebAndGRPC() async throws {
        try await Fixture.with([Fixture.greeter, Fixture.caller]) { fixture in
            try await TargetServer().run { target, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    for callerProtocol in ["grpc-web", "grpc"] {
                        try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/ok", callerProtocol: callerProtocol) { greeter in
                            let reply = try await greeter.greet(.with { $0.name = "Web" })
                            #expect(reply.message == "Hello Web!" && reply.externalBodyLength == 1234, "\(callerProtocol)")
                        }
                        try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: "http://169.254.169.254/", callerProtocol: callerProtocol) { greeter in
                            #expect(await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "Refused" }) } == .permissionDenied, "\(callerProtocol)")
                        }
                        try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/slow", callerTimeout: "1s", callerProtocol: callerProtocol) { greeter in
                            #expect(await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "Slow" }) } == .deadlineExceeded, "\(callerProtocol)")
                        }
                    }
                }
            }
            #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE status_code = 200", in: Fixture.caller) == "2")
            let environment = ["DATABASE_URL": fixture.url(Fixture.greeter), "CALLER_PROTOCOL": "carrier-pigeon"]
            let platform = try ServicePlatform(settings: GreeterService.settings(environment: environment), logger: Live.logger("greeter"))
            let refused = #expect(throws: ServiceStartupError.self) { _ = try GreeterService(platform: platform) }
            #expect(refused?.message == "CALLER_PROTOCOL \"carrier-pigeon\" is not one of connect, grpc-web, grpc")
        }
    }

    @Test func callerErrorsPassThroughAndNothingIsStored() async throws {
        try await Fixture.with([Fixture.greeter, Fixture.caller]) { fixture in
            try await TargetServer().run { target, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    // caller refuses the URL: its code comes through.
                    try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: "http://169.254.169.254/latest/meta-data/") { greeter in
                        #expect(await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "A" }) } == .permissionDenied)
                    }
                    // The target (2 s) is slower than greeter's 1 s budget for caller.
                    try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/slow", callerTimeout: "1s") { greeter in
                        #expect(await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "B" }) } == .deadlineExceeded)
                    }
                }
                // Nothing listens where caller should be.
                try await Self.withGreeter(fixture, callerURL: Live.deadURL(), externalURL: target + "/ok") { greeter in
                    #expect(await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "C" }) } == .unavailable)
                }
            }
            #expect(try await fixture.scalar("SELECT count(*) FROM greetings", in: Fixture.greeter) == "0")
        }
    }

    @Test func aLockedTableIsAnsweredWithinTheBudgetAndNothingIsWrittenLater() async throws {
        try await Fixture.with([Fixture.greeter, Fixture.caller]) { fixture in
            try await TargetServer().run { target, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/ok") { greeter in
                        // Another session holds the table: the insert waits for a lock.
                        let configuration = try fixture.manager.endpoint.connectionConfiguration(database: "greeter_db", limits: .tool)
                        let holder = try await PostgresConnection.connect(configuration: configuration, id: 7, logger: Live.logger("holder"))
                        try await holder.query("BEGIN", logger: Live.logger("holder"))
                        try await holder.query("LOCK TABLE greetings IN ACCESS EXCLUSIVE MODE", logger: Live.logger("holder"))
                        // Answered by greeter's own 3 s budget (unavailable), long before this
                        // client's 20 s (deadline_exceeded): the lock is released only afterwards.
                        let code = await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "Locked" }, timeout: .seconds(20)) }
                        #expect(code == .unavailable)
                        // The readiness check does not hang behind the lock either.
                        try await holder.query("ROLLBACK", logger: Live.logger("holder"))
                        try await holder.close()
                        // The server cancelled the insert: released, it is not written after the answer.
                        try await Task.sleep(for: .milliseconds(500))
                        #expect(try await fixture.scalar("SELECT count(*) FROM greetings WHERE name = 'Locked'", in: Fixture.greeter) == "0")
                        #expect(try await greeter.greet(.with { $0.name = "After" }).message == "Hello After!")
                    }
                }
            }
        }
    }

    @Test func aHandlerStillRunningAfterItsDeadlineDoesNotWrite() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let platform = try ServicePlatform(settings: GreeterService.settings(environment: ["DATABASE_URL": fixture.url(Fixture.greeter)]), logger: Live.logger("greeter"))
            try await Live.serve(platform, routes: { router in
                // Ignores cancellation for 600 ms (a blocking call), then writes.
                router.connectUnary("/test.v1.Late/Write", input: Greeter_V1_GreetRequest.self) { request, _ in
                    await withCheckedContinuation { continuation in
                        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(600)) { continuation.resume() }
                    }
                    try await platform.connectDatabase("late write") {
                        try await platform.query("INSERT INTO greetings (name, message, external_status) VALUES (\(request.name), 'late', 0)")
                    }
                    return Greeter_V1_GreetResponse()
                }
            }) { base in
                var request = HTTPClientRequest(url: base + "/test.v1.Late/Write")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "Connect-Timeout-Ms", value: "100")
                request.body = .bytes(ByteBuffer(string: #"{"name":"too-late"}"#))
                let response = try await ConnectClient.sharedHTTPClient.execute(request, timeout: .seconds(10))
                #expect(String(buffer: try await response.body.collect(upTo: 4096)).contains("deadline_exceeded"))
                try await Task.sleep(for: .milliseconds(1200))
            }
            #expect(try await fixture.scalar("SELECT count(*) FROM greetings WHERE name = 'too-late'", in: Fixture.greeter) == "0")
        }
    }

    @Test func serviceSessionsCarryStatementAndLockTimeouts() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let platform = try ServicePlatform(settings: GreeterService.settings(environment: ["DATABASE_URL": fixture.url(Fixture.greeter)]), logger: Live.logger("greeter"))
            try await Live.serve(platform, routes: { _ in }) { _ in
                let settings = try await platform.withDatabaseDeadline {
                    try await platform.query("SELECT current_setting('statement_timeout') || ',' || current_setting('lock_timeout') || ',' || current_setting('application_name')")
                        .first?.decode(String.self)
                }
                #expect(settings == "2500ms,2s,greeter")
            }
        }
    }

    @Test func sslmodeRequireNeverFallsBackToPlaintext() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            // The fixture's cluster has no TLS.
            let url = fixture.url(Fixture.greeter) + "?sslmode=require"
            let platform = try ServicePlatform(settings: GreeterService.settings(environment: ["DATABASE_URL": url]), logger: Live.logger("greeter"))
            try await Live.serve(platform, warm: false, routes: { _ in }) { base in
                var request = HTTPClientRequest(url: base + "/readyz")
                request.method = .GET
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                #expect(response.status.code == 503)
            }
            // devctl reads the same URL the same way, and says why.
            let manager = try DatabaseManager(config: fixture.manager.config, repositoryRoot: fixture.root, databaseURL: url)
            let error = await #expect(throws: DevctlFailure.self) { _ = try await manager.status() }
            #expect(error?.message.contains("does not offer TLS") == true, "\(error?.message ?? "")")
            // An sslmode that is not libpq's is refused at start-up.
            let bad = #expect(throws: ServiceStartupError.self) {
                _ = try ServicePlatform(settings: GreeterService.settings(environment: ["DATABASE_URL": fixture.url(Fixture.greeter) + "?sslmode=sometimes"]))
            }
            #expect(bad?.message.contains("unknown sslmode \"sometimes\"") == true)
        }
    }

    @Test func greeterAnswersUnavailableWhileItsDatabaseIsDownAndRecovers() async throws {
        try await Fixture.with([Fixture.greeter, Fixture.caller]) { fixture in
            try await TargetServer().run { target, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    // caller shares the cluster: it answers unavailable after its own 3 s database
                    // deadline, within greeter's (default 10 s) budget for caller.
                    try await Self.withGreeter(fixture, callerURL: callerURL, externalURL: target + "/ok") { greeter in
                        _ = try await greeter.greet(.with { $0.name = "before" })
                        _ = try await fixture.manager.stopServer()
                        let during = await ConnectError.code { _ = try await greeter.greet(.with { $0.name = "during" }) }
                        #expect(during == .unavailable)
                        _ = try await fixture.manager.startServer()
                        var recovered = false
                        let clock = ContinuousClock()
                        let restarted = clock.now
                        // The pools reconnect by themselves (with backoff): allow them 20 s.
                        while !recovered, clock.now - restarted < .seconds(20) {
                            recovered = (try? await greeter.greet(.with { $0.name = "after" })) != nil
                            if !recovered { try await Task.sleep(for: .milliseconds(250)) }
                        }
                        #expect(recovered)
                        #expect(try await fixture.scalar("SELECT string_agg(name, ',' ORDER BY created_at) FROM greetings", in: Fixture.greeter) == "before,after")
                    }
                }
            }
        }
    }

    @Test func callerRefusesInternalAddressesAfterResolution() async throws {
        try await Fixture.with([Fixture.caller]) { fixture in
            let target = TargetServer()
            try await target.run { url, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)") { callerURL in
                    let caller = Self.callerClient(callerURL)
                    func code(_ url: String) async -> ConnectCode? {
                        await ConnectError.code { _ = try await caller.callExternal(.with { $0.url = url }) }
                    }
                    let hitsBefore = target.hits.withLockedValue { $0 }
                    for refused in [
                        "http://localhost:\(port)/ok",             // a name for loopback
                        "http://[::1]:\(port)/ok",
                        "http://2130706433:\(port)/ok",            // 127.0.0.1 as one decimal number
                        "http://0x7f.0.0.1:\(port)/ok",
                        "http://169.254.169.254/latest/meta-data/", // cloud metadata
                        "http://10.0.0.1/", "http://192.168.1.1/", "http://[fe80::1]/", "http://[::ffff:127.0.0.1]:\(port)/ok",
                    ] {
                        #expect(await code(refused) == .permissionDenied, "\(refused)")
                    }
                    // The refusal does not tell the client where the name points.
                    let refusal = await #expect(throws: ConnectError.self) { _ = try await caller.callExternal(.with { $0.url = "http://2130706433:\(port)/ok" }) }
                    #expect(refusal?.message.contains("127.0.0.1") == false, "\(refusal?.message ?? "")")
                    #expect(refusal?.message.contains("loopback") == false)
                    #expect(target.hits.withLockedValue { $0 } == hitsBefore, "a refused URL was contacted")
                    for invalid in ["", "ftp://example.com/", "not a url", "/relative", "http://"] {
                        #expect(await code(invalid) == .invalidArgument, "\(invalid)")
                    }
                    // Redirects are checked hop by hop: inwards is refused, an allowed hop followed.
                    #expect(await code(url + "/redirect?to=http://localhost:\(port)/ok") == .permissionDenied)
                    #expect(await code(url + "/redirect?to=http://169.254.169.254/") == .permissionDenied)
                    let followed = try await caller.callExternal(.with { $0.url = url + "/redirect?to=/ok" })
                    #expect(followed.statusCode == 200 && followed.bodyLength == 1234)
                    // Every call is recorded, refused ones with their reason; credentials never.
                    _ = await code("http://user:secret@localhost:\(port)/ok")
                    #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE error LIKE 'permission_denied%'", in: Fixture.caller) == "13")
                    #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE url LIKE '%secret%'", in: Fixture.caller) == "0")
                }
            }
        }
    }

    @Test func httpsIsPinnedToTheCheckedAddressKeepingTheNameForTLS() async throws {
        let guardrail = OutboundGuard(allowList: "") { host in
            host == "pinned.test" ? [IPAddress(bytes: [203, 0, 113, 10])] : []
        }
        let target = try await guardrail.check("https://pinned.test:8443/path", before: .now + .seconds(120))
        #expect(target.url == "https://pinned.test:8443/path")
        #expect(target.pinnedAddress == "203.0.113.10")
        let configuration = try #require(CallerService.pinnedConfiguration(for: target))
        #expect(configuration.dnsOverride == ["pinned.test": "203.0.113.10"])
        // Certificates are still checked (against the name, which the URL keeps).
        #expect(configuration.tlsConfiguration == nil)
        // Allow-listed hosts are trusted as configured: no pin, the shared client.
        let allowed = try await OutboundGuard(allowList: "pinned.test:8443") { _ in [] }.check("https://pinned.test:8443/", before: .now + .seconds(120))
        #expect(allowed.pinnedAddress == nil)
    }

    @Test func ipLiteralsAreCheckedWithoutALookupAndNamesStillResolve() async throws {
        let lookups = NIOLockedValueBox<[String]>([])
        let guardrail = OutboundGuard(allowList: "") { host in
            lookups.withLockedValue { $0.append(host) }
            return [IPAddress(bytes: [127, 0, 0, 1])]
        }
        let publicLiteral = try await guardrail.check("http://203.0.113.7:8080/x", before: .now + .seconds(120))
        #expect(publicLiteral.pinnedAddress == nil, "a literal needs no pin: it cannot be re-resolved")
        let publicV6 = try await guardrail.check("http://[2001:4860::8888]/", before: .now + .seconds(120))
        #expect(publicV6.pinnedAddress == nil)
        for refused in ["http://127.0.0.1/", "http://10.1.2.3/", "http://[::1]/", "http://[::ffff:10.0.0.1]/"] {
            await #expect(throws: ConnectError.self, "\(refused)") { _ = try await guardrail.check(refused, before: .now + .seconds(120)) }
        }
        #expect(lookups.withLockedValue { $0 }.isEmpty, "a literal went through the resolver")
        // Spellings only getaddrinfo reads still go through it (and its answer is checked).
        for numeric in ["http://2130706433/", "http://0x7f.0.0.1/", "http://name.test/"] {
            await #expect(throws: ConnectError.self, "\(numeric)") { _ = try await guardrail.check(numeric, before: .now + .seconds(120)) }
        }
        #expect(lookups.withLockedValue { $0 } == ["2130706433", "0x7f.0.0.1", "name.test"])
        // Answers are kept for literals (the same every time), never for names (DNS may change).
        let again = try await guardrail.check("http://203.0.113.7:8080/x", before: .now + .seconds(120))
        #expect(again.pinnedAddress == nil && again.requestTarget == "/x" && again.authority == "203.0.113.7:8080")
        await #expect(throws: ConnectError.self) { _ = try await guardrail.check("http://name.test/", before: .now + .seconds(120)) }
        #expect(lookups.withLockedValue { $0 }.count == 4, "a name is looked up on every call")
        await #expect(throws: ConnectError.self) { _ = try await guardrail.check("http://10.1.2.3/", before: .now + .seconds(120)) }
    }

    @Test func namesAreTrimmedOfUnicodeWhiteSpaceOnly() {
        #expect(GreeterService.trimmingWhitespace("  Ada\n\t") == "Ada")
        #expect(GreeterService.trimmingWhitespace("\u{00A0}Bo Li\u{2003}\r\n") == "Bo Li")
        #expect(GreeterService.trimmingWhitespace("Zoë") == "Zoë")
        #expect(GreeterService.trimmingWhitespace(" \u{3000} ") == "")
        #expect(GreeterService.trimmingWhitespace("_x_") == "_x_")
    }

    @Test func pinnedClientsAreReusedAndNeverClosedUnderACall() async throws {
        let clients = PinnedClients()
        let made = NIOLockedValueBox(0)
        func make() -> HTTPClient {
            made.withLockedValue { $0 += 1 }
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        }
        let first = clients.checkOut(host: "a.test", address: "203.0.113.1", make: make)
        clients.checkIn(first, host: "a.test", address: "203.0.113.1")
        let again = clients.checkOut(host: "A.test", address: "203.0.113.1", make: make)
        #expect(again === first, "the same name and address reuse the client (and its connections)")
        let moved = clients.checkOut(host: "a.test", address: "203.0.113.2", make: make)
        #expect(moved !== first, "a new address gets its own client")
        #expect(made.withLockedValue { $0 } == 2)
        // Fill the cache with busy clients: the next call gets its own, kept no longer than the call.
        var busy: [(HTTPClient, String)] = [(again, "203.0.113.1"), (moved, "203.0.113.2")]
        for index in 3...PinnedClients.capacity {
            let address = "203.0.113.\(index)"
            busy.append((clients.checkOut(host: "a.test", address: address, make: make), address))
        }
        #expect(clients.keptCount == PinnedClients.capacity)
        let overflow = clients.checkOut(host: "b.test", address: "198.51.100.1", make: make)
        #expect(clients.keptCount == PinnedClients.capacity, "busy clients are not evicted")
        clients.checkIn(overflow, host: "b.test", address: "198.51.100.1")
        for (client, address) in busy { clients.checkIn(client, host: "a.test", address: address) }
        // Now idle: a new target evicts the least recently used one.
        _ = clients.checkOut(host: "c.test", address: "198.51.100.2", make: make)
        #expect(clients.keptCount == PinnedClients.capacity)
        let evictedOne = clients.checkOut(host: "a.test", address: "203.0.113.1", make: make)
        #expect(evictedOne !== first, "the least recently used idle client made room")
        clients.checkIn(evictedOne, host: "a.test", address: "203.0.113.1")
        await clients.shutdown()
        try? await first.shutdown()
    }

    @Test func aNameWithOnePublicAndOnePrivateAddressIsRefused() async throws {
        // DNS answers both: a check of only the first address would let the second through.
        for order in [[IPAddress(bytes: [203, 0, 113, 10]), IPAddress(bytes: [10, 0, 0, 5])],
                      [IPAddress(bytes: [10, 0, 0, 5]), IPAddress(bytes: [203, 0, 113, 10])]] {
            let guardrail = OutboundGuard(allowList: "") { _ in order }
            let error = await #expect(throws: ConnectError.self) { _ = try await guardrail.check("https://mixed.test/", before: .now + .seconds(120)) }
            #expect(error?.code == .permissionDenied)
        }
    }

    @Test func aSlowNameLookupCountsInsideTheCallsDeadline() async throws {
        // getaddrinfo stuck on a dead resolver: held until the test lets it go (60 s fallback).
        let release = DispatchSemaphore(value: 0)
        let released = NIOLockedValueBox(false)
        let guardrail = OutboundGuard(allowList: "") { _ in
            if release.wait(timeout: .now() + 60) == .timedOut { released.withLockedValue { $0 = true } }
            return [IPAddress(bytes: [203, 0, 113, 10])]
        }
        let error = await #expect(throws: ConnectError.self) { _ = try await guardrail.check("http://slow.test/", before: .now + .milliseconds(200)) }
        #expect(error?.code == .deadlineExceeded)
        #expect(!released.withLockedValue { $0 }, "the check waited for the lookup instead of answering at its deadline")
        release.signal()
    }

    @Test func callerCountsTheBodyAsItStreamsUpToTheCap() async throws {
        try await Fixture.with([Fixture.caller]) { fixture in
            try await TargetServer().run { url, port in
                try await Self.withCaller(fixture, allowed: "127.0.0.1:\(port)", extra: ["CALLER_MAX_BODY_BYTES": "1000000"]) { callerURL in
                    let caller = Self.callerClient(callerURL)
                    // /big streams 2 MiB: the call stops at the 1 MB cap.
                    #expect(await ConnectError.code { _ = try await caller.callExternal(.with { $0.url = url + "/big" }) } == .resourceExhausted)
                    // A body that never ends: a reader that collected before counting would wait
                    // for the deadline (deadline_exceeded); one that counts as it streams stops
                    // at the cap.
                    #expect(await ConnectError.code { _ = try await caller.callExternal(.with { $0.url = url + "/endless" }) } == .resourceExhausted)
                    let small = try await caller.callExternal(.with { $0.url = url + "/ok" })
                    #expect(small.bodyLength == 1234)
                    #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE error LIKE 'resource_exhausted%'", in: Fixture.caller) == "2")
                }
            }
        }
    }

    @Test func addressClassification() throws {
        func range(_ host: String) throws -> String? {
            let addresses = try IPAddress.resolve(host)
            return addresses.compactMap(\.nonPublicRange).first
        }
        #expect(try range("127.0.0.1")?.hasPrefix("loopback") == true)
        #expect(try range("2130706433")?.hasPrefix("loopback") == true)
        #expect(try range("169.254.169.254")?.hasPrefix("link-local") == true)
        #expect(try range("172.20.1.1")?.hasPrefix("private") == true)
        #expect(try range("100.100.1.1")?.hasPrefix("shared") == true)
        #expect(try range("::1")?.hasPrefix("loopback") == true)
        #expect(try range("fd00::1")?.hasPrefix("unique local") == true)
        #expect(try range("64:ff9b::7f00:1")?.hasPrefix("NAT64 loopback") == true)
        #expect(try range("2002:7f00:1::")?.hasPrefix("6to4 loopback") == true)
        #expect(try range("93.184.216.34") == nil)
        #expect(try range("2606:4700::1111") == nil)
        #expect(try range("172.32.0.1") == nil)
    }
}
