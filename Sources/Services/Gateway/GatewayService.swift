import ConnectRPC
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PostgresNIO
import Protos

/// gateway (port 8082, Connect `gateway.v1.GatewayService`).
///
/// - `InvokeCustom`: POSTs `{name}` to custom-lang's `/invoke` and maps its answer to Connect
///   codes (``GatewayService/code(forStatus:)``), behind a ``CircuitBreaker`` (only custom-lang's
///   own faults count: a caller's short deadline or cancellation does not) and with one retry,
///   after a short jittered backoff, of what is safe to repeat: a refused connection, or 429/503
///   (answered before processing), while the ``RetryBudget`` allows. A timeout is not retried
///   (the first POST may have run). Every invocation is stored in gateway_db before the reply.
/// - `GetOverview`: custom-lang's languages and the readiness of auth and custom-lang.
/// - `WatchInvocations`: every invocation stored from now on, by any gateway process
///   (``InvocationFeed``: PostgreSQL LISTEN/NOTIFY).
public struct GatewayService: Gateway_V1_GatewayServiceHandler, BundledService {
    public static let name = "gateway"
    public static let defaultPort = 8082

    let platform: ServicePlatform
    let customLang: ServiceURL
    let auth: ServiceURL
    var customLangURL: String { customLang.base }
    let timeout: Duration
    let breaker: CircuitBreaker
    let retryBudget: RetryBudget
    let feed: InvocationFeed

    /// The configuration from the environment, with devctl.yaml's defaults.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "gateway_db",
                        defaults: [
                            "CUSTOM_LANG_BASE_URL": "http://127.0.0.1:3000",
                            "AUTH_BASE_URL": "http://127.0.0.1:8090",
                            "GATEWAY_TIMEOUT": "5s",
                            "BREAKER_OPEN_DURATION": "30s",
                        ],
                        environment: environment)
    }

    public static func make(platform: ServicePlatform) async throws -> Self {
        try Self(platform: platform)
    }

    /// - Parameter clock: the breaker's time (tests pass a manual clock instead of sleeping).
    public init(platform: ServicePlatform, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) throws {
        self.platform = platform
        customLang = ServiceURL(try Self.baseURL(platform, "CUSTOM_LANG_BASE_URL"))
        auth = ServiceURL(try Self.baseURL(platform, "AUTH_BASE_URL"))
        timeout = platform.duration("GATEWAY_TIMEOUT", default: .seconds(5))
        breaker = CircuitBreaker(name: "custom-lang", openDuration: platform.duration("BREAKER_OPEN_DURATION", default: .seconds(30)), clock: clock)
        retryBudget = RetryBudget()
        feed = InvocationFeed(platform: platform)
    }

    private static func baseURL(_ platform: ServicePlatform, _ key: String) throws -> String {
        let text = platform.settings[key] ?? ""
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ServiceStartupError(service: name, message: "\(key) \"\(text)\" is not an http(s) URL")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// Adds the RPCs to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        registerConnect(on: router, options: ConnectServerOptions(maxRequestBytes: platform.settings.maxBodyBytes))
    }

    // MARK: InvokeCustom

    /// The Connect code for a custom-lang status (the table).
    static func code(forStatus status: Int) -> ConnectCode {
        switch status {
        case 400: return .invalidArgument
        case 401: return .unauthenticated
        case 403: return .permissionDenied
        case 404: return .notFound
        case 409: return .alreadyExists
        case 429: return .resourceExhausted
        case 502, 503: return .unavailable
        case 504: return .deadlineExceeded
        default: return status >= 400 && status < 500 ? .failedPrecondition : .internal
        }
    }

    /// One attempt's result.
    enum Attempt {
        /// custom-lang answered with this status.
        case answered(status: Int, message: String)
        /// The request never reached custom-lang (connection refused or not established).
        case notDelivered(ConnectError)
        /// No usable answer after the request may have been processed (a timeout, a broken
        /// connection); `upstreamFault` is false when the caller's own deadline or cancellation
        /// ended it, which says nothing about custom-lang's health.
        case failed(ConnectError, upstreamFault: Bool)

        /// Safe to send again: custom-lang refused before processing (429, 503) or never got it.
        /// A timeout or a 502/504 is not retried: the invocation may have run, and a second
        /// POST /invoke would run it twice.
        var isRetryable: Bool {
            switch self {
            case .answered(let status, _): return status == 429 || status == 503
            case .notDelivered: return true
            case .failed: return false
            }
        }

        /// How it counts for the breaker: custom-lang is unhealthy (`false`), healthy (`true`),
        /// or the attempt says nothing about it (`nil`: the caller gave up first).
        var breakerOutcome: Bool? {
            switch self {
            case .answered(let status, _): return !(status == 429 || status >= 500)
            case .notDelivered: return false
            case .failed(_, let upstreamFault): return upstreamFault ? false : nil
            }
        }

        var error: ConnectError? {
            switch self {
            case .answered: return nil
            case .notDelivered(let error), .failed(let error, _): return error
            }
        }
    }

    /// Backoff before the one retry: 50–150 ms (jittered so retries of many callers spread out).
    static func retryDelay() -> Duration { .milliseconds(Int64.random(in: 50...150)) }

    public func invokeCustom(_ request: Gateway_V1_InvokeCustomRequest, context: ConnectContext) async throws -> Gateway_V1_InvokeCustomResponse {
        let start = ContinuousClock.now
        retryBudget.deposit()
        var attempts = 0
        var last: Attempt?
        while attempts < 2 {
            if case .rejected(let wait) = breaker.admit() {
                let error = ConnectError(.unavailable, "custom-lang circuit breaker is open after repeated failures; next trial in \(Self.seconds(wait))")
                if last != nil { break } // the retry was refused: answer with the first attempt's result
                try await store(request.name, outcome: .failed(error, upstreamFault: false), attempts: 0, since: start)
                throw error
            }
            attempts += 1
            let attempt = await post(request, context: context)
            breaker.record(attempt.breakerOutcome)
            last = attempt
            let delay = Self.retryDelay()
            guard attempt.isRetryable, attempts < 2, !Task.isCancelled,
                  (context.timeRemaining ?? .seconds(1)) > delay + .milliseconds(50), retryBudget.withdraw() else { break }
            context.logger.info("retrying custom-lang", metadata: ["procedure": "\(context.procedure)"])
            try? await Task.sleep(for: delay)
        }
        guard let last else { throw ConnectError(.internal, "no attempt made") }
        try await store(request.name, outcome: last, attempts: attempts, since: start)
        switch last {
        case .answered(200, let message):
            return .with { $0.message = message }
        case .answered(let status, let message):
            throw ConnectError(Self.code(forStatus: status), "custom-lang answered \(status): \(message)")
        case .notDelivered(let error), .failed(let error, _):
            throw error
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f s", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    /// One POST to custom-lang `/invoke`; its answer, or why there was none.
    private func post(_ input: Gateway_V1_InvokeCustomRequest, context: ConnectContext) async -> Attempt {
        var budget = timeout
        var callerBound = false
        if let remaining = context.timeRemaining, remaining < budget {
            budget = remaining
            callerBound = true
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        if let language = context.requestHeaders[.acceptLanguage] { headers.add(name: "Accept-Language", value: language) }
        guard let body = try? JSONSerialization.data(withJSONObject: ["name": input.name]) else {
            return .failed(ConnectError(.internal, "cannot encode the request"), upstreamFault: false)
        }
        do {
            let (status, payload) = try await Self.exchange(customLang, .POST, "/invoke", headers: headers, body: ByteBuffer(bytes: body), within: budget)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: payload))) as? [String: Any]
            if status == 200 {
                guard let message = object?["message"] as? String else {
                    return .failed(ConnectError(.internal, "custom-lang answered 200 without a message"), upstreamFault: true)
                }
                return .answered(status: status, message: message)
            }
            return .answered(status: status, message: object?["error"] as? String ?? "HTTP \(status)")
        } catch let error as ConnectError {
            // Our own timeout is custom-lang being slow; the caller's shorter deadline is not.
            return .failed(error, upstreamFault: !(callerBound && error.code == .deadlineExceeded))
        } catch is CancellationError {
            return .failed(ConnectError(.canceled, "the call was canceled"), upstreamFault: false)
        } catch where Self.isConnectFailure(error) {
            return .notDelivered(ConnectError(.unavailable, "cannot reach custom-lang at \(customLangURL): \(error)"))
        } catch {
            return .failed(ConnectError(.unavailable, "custom-lang at \(customLangURL) failed: \(error)"), upstreamFault: !Task.isCancelled)
        }
    }

    /// The connection was never established, so custom-lang cannot have seen the request.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if case HTTP1Client.Failure.cannotConnect = error { return true }
        return false
    }

    /// One HTTP exchange, headers and body (≤ 1 MiB), within `budget`. A request that was never
    /// delivered throws ``HTTP1Client/Failure/cannotConnect(_:)``; every other failure is a
    /// ``ConnectError``.
    static func exchange(_ service: ServiceURL, _ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:],
                         body: ByteBuffer? = nil, within budget: Duration) async throws -> (Int, ByteBuffer) {
        do {
            // A stack service: the trace continues there.
            let response = try await ConnectTracing.httpClientSpan(method: method.rawValue, url: "\(service)\(path)", headers: headers,
                                                                   status: { Int($0.status.code) }) { headers in
                try await service.exchange(method, path, headers: headers, body: body, deadline: .now() + TimeAmount(budget), maxBodyBytes: 1 << 20)
            }
            return (Int(response.status.code), response.body)
        } catch let failure as HTTP1Client.Failure {
            switch failure {
            case .cannotConnect: throw failure
            case .deadlineExceeded: throw ConnectError(.deadlineExceeded, "no answer from \(service)\(path) within \(budget)")
            case .cancelled: throw CancellationError()
            case .bodyTooLarge, .connectionClosed, .malformedResponse: throw ConnectError(.unavailable, "\(service)\(path): \(failure)")
            case .invalidRequest: throw ConnectError(.internal, "\(service)\(path): \(failure)")
            }
        }
    }

    /// Stores the invocation. A success is acknowledged only once stored; a failure is
    /// answered with its own error even if storing it failed (that is logged).
    private func store(_ name: String, outcome: Attempt, attempts: Int, since start: ContinuousClock.Instant) async throws {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Int32(clamping: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let (success, code, status, message): (Bool, String, Int32?, String) = switch outcome {
        case .answered(200, let message): (true, "ok", 200, message)
        case .answered(let status, let message): (false, Self.code(forStatus: status).rawValue, Int32(status), message)
        case .notDelivered(let error), .failed(let error, _): (false, error.code.rawValue, nil, error.message)
        }
        let attempts16 = Int16(attempts)
        do {
            try await platform.connectDatabase("invocation not stored") {
                try await platform.execute(InsertInvocation(name: name, message: message, success: success, code: code,
                                                            status: status, attempts: attempts16, milliseconds: milliseconds))
            }
        } catch where !success {
            platform.logger.warning("invocation record not stored", metadata: ["code": "\(code)"])
        }
    }

    // MARK: WatchInvocations

    public func watchInvocations(_ request: Gateway_V1_WatchInvocationsRequest, context: ConnectContext, stream: ServerStream<Gateway_V1_Invocation>) async throws {
        let (id, invocations) = try await feed.watch()
        do {
            for try await invocation in invocations { try await stream.send(invocation) }
            await feed.stop(id)
        } catch {
            // The client left, the deadline passed, or the feed ended: release the subscription.
            await feed.stop(id)
            throw error
        }
    }

    // MARK: GetOverview

    public func getOverview(_ request: Gateway_V1_GetOverviewRequest, context: ConnectContext) async throws -> Gateway_V1_GetOverviewResponse {
        var budget = Duration.seconds(2)
        if let remaining = context.timeRemaining { budget = min(budget, remaining) }
        async let languages = fetchLanguages(within: budget)
        async let customLangHealth = health("custom-lang", customLang, within: budget)
        async let authHealth = health("auth", auth, within: budget)
        let (supported, defaultLanguage) = await languages
        let services = await [authHealth, customLangHealth]
        return .with {
            $0.supportedLanguages = supported
            $0.defaultLanguage = defaultLanguage
            $0.services = services
        }
    }

    private func fetchLanguages(within budget: Duration) async -> ([String], String) {
        guard let (status, body) = try? await Self.exchange(customLang, .GET, "/api/lang", within: budget), status == 200,
              let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] else { return ([], "") }
        return ((object["languages"] as? [String]) ?? [], (object["default"] as? String) ?? "")
    }

    private func health(_ name: String, _ service: ServiceURL, within budget: Duration) async -> Gateway_V1_ServiceHealth {
        let start = ContinuousClock.now
        var health = Gateway_V1_ServiceHealth()
        health.name = name
        do {
            let (status, _) = try await Self.exchange(service, .GET, "/readyz", within: budget)
            health.healthy = status == 200
            health.detail = status == 200 ? "ready" : "HTTP \(status)"
        } catch let error as ConnectError {
            health.detail = error.message
        } catch {
            health.detail = "unreachable at \(service)/readyz"
        }
        let elapsed = ContinuousClock.now - start
        health.latencyMs = Int32(clamping: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        return health
    }
}

/// The invocation record, prepared once per pooled connection.
struct InsertInvocation: PreparedInsert {
    static let name = "InsertInvocation"
    static let sql = "INSERT INTO invocations (name, result_message, success, code, http_status, attempts, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    // The parameter types the values are sent as (the server converts to the columns' types, as for `query`).
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .bool, .text, .int4, .int2, .int4]

    var name: String
    var message: String
    var success: Bool
    var code: String
    var status: Int32?
    var attempts: Int16
    var milliseconds: Int32

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(name)
        bindings.append(message)
        bindings.append(success)
        bindings.append(code)
        bindings.append(status)
        bindings.append(attempts)
        bindings.append(milliseconds)
        return bindings
    }
}
