import ConnectRPC
import Hummingbird
import Logging

/// One log line per request: request id (from the request's logger), method, route, status, duration, and for Connect calls
/// the procedure and Connect code. Never headers or bodies (they carry tokens and passwords).
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    /// Health probes and metrics scrapes: logged at debug.
    static var routineRequests: Set<String> { ["/healthz", "/readyz", "/metrics"] }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = ConnectCallOutcome()
        do {
            let response = try await ConnectCallOutcome.$current.withValue(outcome) { try await next(request, context) }
            log(request, context, status: Int(response.status.code), outcome: outcome, since: start, clock: clock)
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            log(request, context, status: status, outcome: outcome, since: start, clock: clock)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, outcome: ConnectCallOutcome, since start: ContinuousClock.Instant, clock: ContinuousClock) {
        let elapsed = clock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": "\(request.method)",
            "route": "\(context.endpointPath ?? request.uri.path)",
            "status": "\(status)",
            "duration_ms": "\(String(format: "%.2f", milliseconds))",
        ]
        if let procedure = outcome.procedure, let code = outcome.code {
            metadata["procedure"] = "\(procedure)"
            metadata["code"] = "\(code)"
        }
        // Probes and scrapes come every second from the supervisor and the edge: at info they
        // would bury every real request (and fill the log files of an idle stack).
        let level: Logger.Level = Self.routineRequests.contains(request.uri.path) ? .debug : .info
        context.logger.log(level: level, "request", metadata: metadata)
    }
}
