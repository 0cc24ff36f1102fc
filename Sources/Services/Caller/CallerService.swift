import AsyncHTTPClient
import ConnectRPC
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import PostgresNIO
import Protos
import Telemetry
import Tracing

/// caller (port 8081, Connect `caller.v1.CallerService/CallExternal`).
///
/// GETs a URL on behalf of other services, behind ``OutboundGuard`` (also for every redirect
/// hop), counts the body as it streams (up to `CALLER_MAX_BODY_BYTES`), and records each call
/// in caller_db. A success is answered only after its record is stored.
public struct CallerService: Caller_V1_CallerServiceHandler, BundledService {
    public static let name = "caller"
    public static let defaultPort = 8081
    static let maxRedirects = 5

    let platform: ServicePlatform
    let guardrail: OutboundGuard
    let timeout: Duration
    let maxBodyBytes: Int

    /// Outbound `https` (plain `http` goes through ``HTTP1Client``): redirects are followed here
    /// (each hop re-checked), bodies are counted as they arrive (no decompression), and a
    /// refused connection fails at once.
    static var httpClient: HTTPClient { loopHTTPClients.current }
    /// One per event loop (see ``PerEventLoop``).
    static let loopHTTPClients = PerEventLoop { loop in ServiceURL.makeHTTPClient(connectTimeout: .seconds(5), on: loop) }

    /// Clients pinned to checked addresses, kept for the next call to the same name and address.
    static let pinnedClients = PinnedClients()

    /// The client for one checked target: for a guarded host, one that connects to the checked
    /// address (AsyncHTTPClient's DNS override) while the URL keeps the name, so `Host`, SNI
    /// and certificate checks still use it. The override is per client, so pinned clients are
    /// kept per (name, address) and reused with their keep-alive connections; allow-listed
    /// hosts and IP literals share ``httpClient``. Return it with ``release(_:for:)``.
    static func client(for target: OutboundGuard.Target) -> HTTPClient {
        guard let address = target.pinnedAddress, let configuration = pinnedConfiguration(for: target) else { return httpClient }
        return pinnedClients.checkOut(host: target.host, address: address) {
            HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        }
    }

    /// The configuration of a pinned target's client, or `nil` for the shared one.
    static func pinnedConfiguration(for target: OutboundGuard.Target) -> HTTPClient.Configuration? {
        guard let address = target.pinnedAddress else { return nil }
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)), decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = [target.host: address]
        configuration.tracing.tracer = nil
        return configuration
    }

    /// Hands a pinned client back (the shared one needs nothing).
    static func release(_ client: HTTPClient, for target: OutboundGuard.Target) {
        guard let address = target.pinnedAddress else { return }
        pinnedClients.checkIn(client, host: target.host, address: address)
    }

    /// The configuration from the environment, with devctl.yaml's defaults.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "caller_db",
                        defaults: ["CALLER_ALLOWED_HOSTS": "", "CALLER_TIMEOUT": "10s", "CALLER_MAX_BODY_BYTES": "10485760"],
                        environment: environment)
    }

    public static func make(platform: ServicePlatform) async throws -> Self {
        try Self(platform: platform)
    }

    public init(platform: ServicePlatform) throws {
        self.platform = platform
        guardrail = OutboundGuard(allowList: platform.settings["CALLER_ALLOWED_HOSTS"] ?? "", logger: platform.logger)
        timeout = platform.duration("CALLER_TIMEOUT", default: .seconds(10))
        let cap = platform.settings["CALLER_MAX_BODY_BYTES"] ?? ""
        guard let maxBodyBytes = Int(cap), maxBodyBytes > 0, maxBodyBytes <= Int(Int32.max) else {
            throw ServiceStartupError(service: Self.name, message: "CALLER_MAX_BODY_BYTES \"\(cap)\" must be a number of bytes from 1 to \(Int32.max)")
        }
        self.maxBodyBytes = maxBodyBytes
    }

    /// Adds the RPC to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        registerConnect(on: router, options: ConnectServerOptions(maxRequestBytes: platform.settings.maxBodyBytes))
    }

    /// What one call returned.
    struct Fetched {
        var status: Int
        var bodyLength: Int
    }

    public func callExternal(_ request: Caller_V1_CallExternalRequest, context: ConnectContext) async throws -> Caller_V1_CallExternalResponse {
        let start = ContinuousClock.now
        let storedURL = OutboundGuard.redacted(request.url)
        var budget = timeout
        if let remaining = context.timeRemaining { budget = min(budget, remaining) }
        let fetched: Fetched
        do {
            fetched = try await fetch(request.url, within: budget)
        } catch {
            let connectError = error as? ConnectError ?? ConnectError(.unavailable, "call to \(storedURL) failed: \(error)")
            do {
                try await record(url: storedURL, status: nil, length: nil, since: start, error: connectError.description)
            } catch {
                context.logger.warning("call record not stored", metadata: ["url": "\(storedURL)"])
            }
            throw connectError
        }
        try await record(url: storedURL, status: fetched.status, length: fetched.bodyLength, since: start, error: nil)
        return .with {
            $0.statusCode = Int32(fetched.status)
            $0.bodyLength = Int32(fetched.bodyLength)
        }
    }

    /// GETs `url`, following up to ``maxRedirects`` redirects, each target checked anew.
    private func fetch(_ url: String, within budget: Duration) async throws -> Fetched {
        let deadline = ContinuousClock.now.advanced(by: budget)
        var current = url
        for _ in 0...Self.maxRedirects {
            let target = try await guardrail.check(current, before: deadline)
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw ConnectError(.deadlineExceeded, "no answer from \(OutboundGuard.redacted(url)) within \(budget)") }
            let outcome = try await Self.traced(target) { traceHeaders in
                if target.scheme == "http" {
                    try await fetchPlain(target, within: remaining, url: url, traceHeaders: traceHeaders)
                } else {
                    try await fetchTLS(target, within: remaining, url: url, traceHeaders: traceHeaders)
                }
            }
            guard let location = outcome.1 else { return outcome.0 }
            guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteURL.absoluteString else {
                throw ConnectError(.failedPrecondition, "\(OutboundGuard.redacted(current)) redirected to an invalid Location \"\(location)\"")
            }
            current = next
        }
        throw ConnectError(.failedPrecondition, "more than \(Self.maxRedirects) redirects from \(OutboundGuard.redacted(url))")
    }

    /// One GET (a hop: a redirect is its own) in a client span when tracing is on. The trace
    /// context goes only to allow-listed hosts (the stack's own services): an external site is
    /// never sent `traceparent`, which would tell it about the call chain behind it.
    private static func traced(_ target: OutboundGuard.Target, _ body: (HTTPHeaders) async throws -> (Fetched, String?)) async throws -> (Fetched, String?) {
        guard TracingBootstrap.isEnabled else { return try await body(HTTPHeaders()) }
        if let unsampled = UnsampledTrace.current {
            return try await body(target.isAllowListed ? unsampled.injected(into: HTTPHeaders()) : HTTPHeaders())
        }
        return try await withSpan("GET", ofKind: .client) { span in
            span.updateAttributes { attributes in
                attributes["http.request.method"] = "GET"
                attributes["server.address"] = target.host
                attributes["server.port"] = target.port
                // Without the query (it can carry secrets) and user-info.
                attributes["url.full"] = "\(target.scheme)://\(target.authority)\(target.requestTarget.prefix { $0 != "?" })"
            }
            var headers = HTTPHeaders()
            if target.isAllowListed {
                InstrumentationSystem.instrument.inject(span.context, into: &headers, using: TraceHeaderInjector())
            }
            do {
                let outcome = try await body(headers)
                span.attributes["http.response.status_code"] = outcome.0.status
                if outcome.0.status >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(outcome.0.status)")) }
                return outcome
            } catch {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: (error as? ConnectError)?.message ?? "\(error)"))
                throw error
            }
        }
    }

    /// One plain-`http` GET on the loop's ``HTTP1Client``, connected to the checked address
    /// (the URL's name kept for `Host`); the body is counted, not kept. Returns the response
    /// and, for a redirect, its `Location`.
    private func fetchPlain(_ target: OutboundGuard.Target, within timeout: Duration, url: String, traceHeaders: HTTPHeaders) async throws -> (Fetched, String?) {
        var headers = traceHeaders
        headers.add(name: "User-Agent", value: "devctl-caller/1")
        let request = HTTP1Client.Request(method: .GET, target: target.requestTarget, authority: target.authority, headers: headers)
        let endpoint = HTTP1Client.Endpoint(host: target.pinnedAddress ?? target.host, port: target.port)
        let response: HTTP1Client.Response
        do {
            response = try await HTTP1Client.current.execute(request, to: endpoint, deadline: .now() + TimeAmount(timeout),
                                                              maxBodyBytes: maxBodyBytes, keepBody: false)
        } catch let failure as HTTP1Client.Failure {
            switch failure {
            case .deadlineExceeded:
                throw ConnectError(.deadlineExceeded, "no complete answer from \(OutboundGuard.redacted(url)) within \(timeout)")
            case .bodyTooLarge:
                throw ConnectError(.resourceExhausted, "response body of \(OutboundGuard.redacted(url)) is larger than \(maxBodyBytes) bytes (CALLER_MAX_BODY_BYTES)")
            case .cancelled:
                throw ConnectError(.canceled, "the call was canceled")
            case .cannotConnect, .connectionClosed, .malformedResponse:
                throw ConnectError(.unavailable, "cannot reach \(OutboundGuard.redacted(url)): \(failure)")
            case .invalidRequest:
                throw ConnectError(.invalidArgument, "cannot request \(OutboundGuard.redacted(url)): \(failure)")
            }
        }
        if [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location") {
            return (Fetched(status: Int(response.status.code), bodyLength: 0), location)
        }
        return (Fetched(status: Int(response.status.code), bodyLength: response.bodyLength), nil)
    }

    /// One `https` GET through AsyncHTTPClient (TLS), pinned to the checked address by its DNS
    /// override; the body is counted as it streams.
    private func fetchTLS(_ target: OutboundGuard.Target, within remaining: Duration, url: String, traceHeaders: HTTPHeaders) async throws -> (Fetched, String?) {
        var request = HTTPClientRequest(url: target.url)
        request.method = .GET
        request.headers.add(contentsOf: traceHeaders)
        request.headers.replaceOrAdd(name: "User-Agent", value: "devctl-caller/1")
        let client = Self.client(for: target)
        defer { Self.release(client, for: target) }
        return try await exchange(within: remaining, url: url) { [maxBodyBytes, request] in
            let response = try await client.execute(request, timeout: .nanoseconds(remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000))
            if [301, 302, 303, 307, 308].contains(response.status.code), let location = response.headers.first(name: "Location") {
                return (Fetched(status: Int(response.status.code), bodyLength: 0), location as String?)
            }
            var length = 0
            for try await chunk in response.body {
                length += chunk.readableBytes
                if length > maxBodyBytes {
                    throw ConnectError(.resourceExhausted, "response body of \(OutboundGuard.redacted(url)) is larger than \(maxBodyBytes) bytes (CALLER_MAX_BODY_BYTES)")
                }
            }
            return (Fetched(status: Int(response.status.code), bodyLength: length), nil)
        }
    }

    /// Runs one HTTP exchange (headers and body) within `timeout`; transport errors become
    /// Connect codes.
    private func exchange<T: Sendable>(within timeout: Duration, url: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withTimeout(timeout, body) {
                ConnectError(.deadlineExceeded, "no complete answer from \(OutboundGuard.redacted(url)) within \(timeout)")
            }
        } catch let error as ConnectError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ConnectError(.deadlineExceeded, "no answer from \(OutboundGuard.redacted(url)) in time")
        } catch is CancellationError {
            throw ConnectError(.canceled, "the call was canceled")
        } catch {
            throw ConnectError(.unavailable, "cannot reach \(OutboundGuard.redacted(url)): \(error)")
        }
    }

    private func record(url: String, status: Int?, length: Int?, since start: ContinuousClock.Instant, error: String?) async throws {
        let elapsed = ContinuousClock.now - start
        let milliseconds = Int32(clamping: elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        let status32 = status.map { Int32(clamping: $0) }
        let length64 = length.map(Int64.init)
        try await platform.connectDatabase("call not recorded") {
            try await platform.execute(InsertCallLog(url: url, status: status32, length: length64, milliseconds: milliseconds, error: error))
        }
    }
}

/// The call record, prepared once per pooled connection.
struct InsertCallLog: PreparedInsert {
    static let name = "InsertCallLog"
    static let sql = "INSERT INTO call_logs (url, status_code, body_length, duration_ms, error) VALUES ($1, $2, $3, $4, $5)"
    // The parameter types the values are sent as (the server converts to the columns' types, as for `query`).
    static let bindingDataTypes: [PostgresDataType] = [.text, .int4, .int8, .int4, .text]

    var url: String
    var status: Int32?
    var length: Int64?
    var milliseconds: Int32
    var error: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(url)
        bindings.append(status)
        bindings.append(length)
        bindings.append(milliseconds)
        bindings.append(error)
        return bindings
    }
}

/// Pinned HTTP clients by (host name, checked address): at most ``capacity`` kept; the least
/// recently used idle one is closed to make room, and a client in use is never closed under a
/// call (when every kept one is busy, the call gets a client of its own, closed after it).
final class PinnedClients: Sendable {
    static let capacity = 32

    private struct Entry {
        var client: HTTPClient
        var inUse: Int
        var lastUsed: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var clock: UInt64 = 0
        /// Clients handed out beyond the kept ones (closed on check-in).
        var extra: [ObjectIdentifier: HTTPClient] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// How many clients are kept now (for tests).
    var keptCount: Int { state.withLockedValue { $0.entries.count } }

    func checkOut(host: String, address: String, make: () -> HTTPClient) -> HTTPClient {
        let key = "\(host.lowercased())\u{0}\(address)"
        var evicted: HTTPClient?
        let client = state.withLockedValue { state -> HTTPClient in
            state.clock += 1
            if var entry = state.entries[key] {
                entry.inUse += 1
                entry.lastUsed = state.clock
                state.entries[key] = entry
                return entry.client
            }
            if state.entries.count >= Self.capacity {
                let idle = state.entries.filter { $0.value.inUse == 0 }.min { $0.value.lastUsed < $1.value.lastUsed }
                guard let idle else {
                    let client = make()
                    state.extra[ObjectIdentifier(client)] = client
                    return client
                }
                evicted = idle.value.client
                state.entries[idle.key] = nil
            }
            let client = make()
            state.entries[key] = Entry(client: client, inUse: 1, lastUsed: state.clock)
            return client
        }
        if let evicted { Self.close(evicted) }
        return client
    }

    func checkIn(_ client: HTTPClient, host: String, address: String) {
        let key = "\(host.lowercased())\u{0}\(address)"
        let extra = state.withLockedValue { state -> HTTPClient? in
            if let extra = state.extra.removeValue(forKey: ObjectIdentifier(client)) { return extra }
            if var entry = state.entries[key], entry.client === client {
                entry.inUse -= 1
                state.entries[key] = entry
            }
            return nil
        }
        if let extra { Self.close(extra) }
    }

    /// Closes every kept client (a process-wide cache lives as long as the process; tests end theirs).
    func shutdown() async {
        let all = state.withLockedValue { state -> [HTTPClient] in
            defer { state = State() }
            return state.entries.values.map(\.client) + state.extra.values
        }
        for client in all { try? await client.shutdown() }
    }

    /// In the background: the answer does not wait for a client to close.
    private static func close(_ client: HTTPClient) {
        Task { try? await client.shutdown() }
    }
}

/// Writes trace headers into an outbound request's `HTTPHeaders`.
struct TraceHeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
        carrier.replaceOrAdd(name: key, value: value)
    }
}
