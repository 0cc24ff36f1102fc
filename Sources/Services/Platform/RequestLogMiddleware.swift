import ConnectRPC
import Hummingbird
import Logging

/// One log line per request: request id (from the request's logger), method, route, status, duration, and for Connect calls
/// the procedure and Connect code. Never headers or bodies (they carry tokens and passwords).
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Probes and scrapes come every second from the supervisor and the edge: at info they
        // would bury every real request (and fill the log files of an idle stack).
        let level: Logger.Level = RoutineRequests.paths.contains(request.uri.path) ? .debug : .info
        // Nothing is measured or allocated for a line that will not be written.
        guard context.logger.logLevel <= level else { return try await next(request, context) }
        let start = ContinuousClock.now
        // One box per request: the tracing middleware's when it bound one already.
        let outcome = ConnectCallOutcome.current ?? ConnectCallOutcome()
        do {
            let response = try await ConnectCallOutcome.$current.withValue(outcome) { try await next(request, context) }
            log(request, context, level: level, status: Int(response.status.code), outcome: outcome, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            log(request, context, level: level, status: status, outcome: outcome, since: start)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, level: Logger.Level, status: Int, outcome: ConnectCallOutcome, since start: ContinuousClock.Instant) {
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? request.uri.path),
            "status": .string(String(status)),
            "duration_ms": .string(Self.milliseconds(ContinuousClock.now - start)),
        ]
        if let procedure = outcome.procedure, let code = outcome.code {
            metadata["procedure"] = .string(procedure)
            metadata["code"] = .string(code)
        }
        context.logger.log(level: level, "request", metadata: metadata)
    }

    /// Milliseconds with two decimals (`1.52`), without a formatter.
    static func milliseconds(_ elapsed: Duration) -> String {
        let (seconds, attoseconds) = elapsed.components
        let hundredths = max(0, seconds * 100_000 + (attoseconds + 5_000_000_000_000) / 10_000_000_000_000)
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// The paths probes and scrapes use, made once (a generic middleware cannot hold a stored static,
/// and a computed set was built, and its strings hashed, on every request).
enum RoutineRequests {
    static let paths: Set<String> = ["/healthz", "/readyz", "/metrics", "/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"]
}
