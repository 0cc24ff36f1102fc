import ConnectRPC
import HTTPTypes
import Hummingbird
import Tracing

/// One server span per request (probes and scrapes without trace context aside), in the trace the request's
/// `traceparent` names (a new one without it). Named `METHOD /route` for REST and
/// `pkg.Service/Method` for RPCs, with the conventions' attributes; an RPC's code sets the
/// span's status — an error code is an error even though it is answered, not thrown — and so
/// does a 5xx. The span covers the response body too: a stream's handler runs while the body is
/// written, after this middleware has returned, and its queries and log lines belong to it.
struct ServerSpanMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Probes and scrapes (no trace context) make no spans; a health URL called within a
        // trace (caller's GET of custom-lang's /healthz) is part of it.
        if RoutineRequests.paths.contains(request.uri.path), request.headers[.traceparent] == nil {
            return try await next(request, context)
        }
        if let header = request.headers[.traceparent],
           let unsampled = UnsampledTrace(traceparent: header, tracestate: request.headers[.tracestate]) {
            return try await Self.passThrough(unsampled, request, context: context, next: next)
        }
        var parent = ServiceContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let span = InstrumentationSystem.tracer.startSpan("\(request.method.rawValue) \(request.uri.path)", context: parent, ofKind: .server)
        span.updateAttributes { attributes in
            attributes["http.request.method"] = request.method.rawValue
            attributes["url.path"] = request.uri.path
        }
        let outcome = ConnectCallOutcome.current ?? ConnectCallOutcome()
        let isGRPC = request.headers[.contentType]?.lowercased().hasPrefix("application/grpc") ?? false
        do {
            let response = try await ServiceContext.$current.withValue(span.context) {
                try await ConnectCallOutcome.$current.withValue(outcome) { try await next(request, context) }
            }
            let route = context.endpointPath
            let status = response.status
            let body = response.body
            // A body of known length was made before this returned (Connect unary, REST JSON):
            // nothing runs while it is written, so the span ends here and the body is written as
            // it is (wrapping it in a closure cost a write and a flush of its own per response).
            if body.contentLength != nil {
                Self.finish(span, status: status, route: route, outcome: outcome, isGRPC: isGRPC, method: request.method)
                return response
            }
            var traced = response
            traced.body = ResponseBody(contentLength: body.contentLength) { writer in
                do {
                    try await ServiceContext.$current.withValue(span.context) {
                        try await ConnectCallOutcome.$current.withValue(outcome) { try await body.write(writer) }
                    }
                } catch {
                    span.recordError(error)
                    Self.finish(span, status: status, route: route, outcome: outcome, isGRPC: isGRPC, method: request.method)
                    throw error
                }
                Self.finish(span, status: status, route: route, outcome: outcome, isGRPC: isGRPC, method: request.method)
            }
            return traced
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            span.recordError(error)
            Self.finish(span, status: status, route: context.endpointPath, outcome: outcome, isGRPC: isGRPC, method: request.method)
            throw error
        }
    }

    /// A request in a trace nobody records: no span, only the trace in the task's context (for
    /// the calls it makes and its log lines), around a streamed body's writing too.
    private static func passThrough(_ unsampled: UnsampledTrace, _ request: Request, context requestContext: Context,
                                    next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = ServiceContext.current ?? .topLevel
        context.unsampledTrace = unsampled
        let traced = context
        let response = try await ServiceContext.$current.withValue(traced) { try await next(request, requestContext) }
        guard response.body.contentLength == nil else { return response }
        let body = response.body
        var wrapped = response
        wrapped.body = ResponseBody(contentLength: nil) { writer in
            try await ServiceContext.$current.withValue(traced) { try await body.write(writer) }
        }
        return wrapped
    }

    private static func finish(_ span: any Span, status: HTTPResponse.Status, route: String?, outcome: ConnectCallOutcome,
                               isGRPC: Bool, method: HTTPRequest.Method) {
        if let procedure = outcome.procedure, let code = outcome.code {
            let name = procedure.hasPrefix("/") ? String(procedure.dropFirst()) : procedure
            span.operationName = name
            let wire: ConnectCallInfo.WireFamily = isGRPC ? .grpc : .connect
            span.updateAttributes { attributes in
                attributes["http.response.status_code"] = Int(status.code)
                ConnectTracing.setRPCAttributes(&attributes, procedure: name, wire: wire)
                // Codes outside Connect's set (`http_415`) have no RPC status to record.
                if code == "ok" || ConnectCode(rawValue: code) != nil {
                    ConnectTracing.record(code: ConnectCode(rawValue: code), wire: wire, into: &attributes)
                }
            }
            if code != "ok" { span.setStatus(SpanStatus(code: .error, message: code)) }
        } else {
            span.updateAttributes { attributes in
                attributes["http.response.status_code"] = Int(status.code)
                if let route { attributes["http.route"] = route }
            }
            if let route {
                span.operationName = "\(method.rawValue) \(route)"
            }
            if status.code >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(status.code)")) }
        }
        span.end()
    }
}

/// Reads trace headers from a request's `HTTPFields`.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        guard let name = HTTPField.Name(key) else { return nil }
        return carrier[name]
    }
}

extension HTTPField.Name {
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!
}
