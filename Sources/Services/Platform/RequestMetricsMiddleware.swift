import Hummingbird
import Metrics
import NIOConcurrencyHelpers

/// Per-request metrics with Hummingbird's names and dimensions (`hb_requests`,
/// `http_server_request_duration`, `hb_request_errors`, `http_server_active_requests`; route,
/// method, status), handles made once per route, method and status.
///
/// Why not Hummingbird's `MetricsMiddleware`: it records after the body is written by wrapping
/// the response body in a closure, and a closure body loses Hummingbird's fast path that sends
/// head, body and end in one write — three socket writes per response instead of one (measured
/// as the largest single item in a service's profile). The services' bodies are single buffers,
/// so "when the handler returned" and "when the body was written" are the same instant.
public struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let cache = RequestMetricsCache()

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let active = cache.active(request.method)
        active.increment()
        defer { active.decrement() }
        do {
            let response = try await next(request, context)
            let handles = cache.endpoint(route: context.endpointPath ?? "Unknown", method: request.method, status: response.status)
            handles.requests.increment()
            handles.duration.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - start))
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let handles = cache.endpoint(route: context.endpointPath ?? "NotFound", method: request.method, status: status)
            handles.requests.increment()
            handles.errors.increment()
            throw error
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// The handles, by method and by (route, method, status).
final class RequestMetricsCache: Sendable {
    struct Endpoint: Hashable {
        var route: String
        var method: HTTPRequest.Method
        var status: Int
    }

    struct Handles: Sendable {
        let requests: Counter
        let duration: Timer
        let errors: Counter
    }

    private let actives = NIOLockedValueBox<[HTTPRequest.Method: Meter]>([:])
    private let endpoints = NIOLockedValueBox<[Endpoint: Handles]>([:])

    func active(_ method: HTTPRequest.Method) -> Meter {
        actives.withLockedValue { actives in
            if let meter = actives[method] { return meter }
            let meter = Meter(label: "http.server.active_requests", dimensions: [("http.request.method", method.description)])
            actives[method] = meter
            return meter
        }
    }

    func endpoint(route: String, method: HTTPRequest.Method, status: HTTPResponse.Status) -> Handles {
        let key = Endpoint(route: route, method: method, status: status.code)
        return endpoints.withLockedValue { endpoints in
            if let handles = endpoints[key] { return handles }
            let dimensions = [("http.route", route), ("http.request.method", method.description), ("http.response.status_code", String(status.code))]
            let handles = Handles(
                requests: Counter(label: "hb.requests", dimensions: dimensions),
                duration: Timer(label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds),
                errors: Counter(label: "hb.request.errors", dimensions: [("http.route", route), ("http.request.method", method.description), ("error.type", String(status.code))])
            )
            endpoints[key] = handles
            return handles
        }
    }
}
