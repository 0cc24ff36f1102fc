import NIOHTTP1
import Synchronization
import Tracing

/// Client spans for the calls a ``ConnectClient`` makes, with `traceparent` (the process's
/// propagator) in the request headers so the server's span joins the trace. Off until the
/// process turns tracing on (``enable()``, after bootstrapping `InstrumentationSystem`): then a
/// call costs one atomic load more.
public enum ConnectTracing {
    private static let enabled = Atomic<Bool>(false)

    /// Turns client spans on for the rest of the process.
    public static func enable() { enabled.store(true, ordering: .releasing) }

    static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// The semantic-convention `rpc.system` of a wire.
    static func system(_ wire: ConnectCallInfo.WireFamily) -> String {
        wire == .connect ? "connect_rpc" : "grpc"
    }

    /// Runs `body` in a client span named after the procedure (`pkg.Service/Method`), passing it
    /// the headers with the trace context injected; the span records the outcome's code and is
    /// an error for any code but OK.
    static func clientSpan<Result>(_ call: ConnectCallInfo, server: String, headers: HTTPHeaders?,
                                   isolation: isolated (any Actor)? = #isolation,
                                   _ body: (HTTPHeaders) async throws -> Result) async throws -> Result {
        if let unsampled = UnsampledTrace.current { return try await body(unsampled.injected(into: headers ?? HTTPHeaders())) }
        let name = call.procedure.hasPrefix("/") ? String(call.procedure.dropFirst()) : call.procedure
        return try await withSpan(name, ofKind: .client, isolation: isolation) { span in
            span.updateAttributes { attributes in
                setRPCAttributes(&attributes, procedure: name, wire: call.wire)
                attributes["server.address"] = server
            }
            var headers = headers ?? HTTPHeaders()
            InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HTTPHeadersInjector())
            do {
                let result = try await body(headers)
                span.updateAttributes { record(code: nil, wire: call.wire, into: &$0) }
                return result
            } catch {
                let connectError = error as? ConnectError ?? ConnectError(.unknown, "\(error)")
                span.updateAttributes { record(code: connectError.code, wire: call.wire, into: &$0) }
                span.setStatus(SpanStatus(code: .error, message: connectError.message))
                throw error
            }
        }
    }

    /// A plain HTTP call to another service of the stack (a ``ServiceURL``: configured, not
    /// user-given) in a client span with `traceparent` injected; a 5xx or a failure is an error.
    /// Without tracing, `body` runs with the headers as they are.
    public static func httpClientSpan<Result>(method: String, url: String, headers: HTTPHeaders,
                                              isolation: isolated (any Actor)? = #isolation,
                                              status: (Result) -> Int,
                                              _ body: (HTTPHeaders) async throws -> Result) async throws -> Result {
        guard isEnabled else { return try await body(headers) }
        if let unsampled = UnsampledTrace.current { return try await body(unsampled.injected(into: headers)) }
        return try await withSpan(method, ofKind: .client, isolation: isolation) { span in
            span.updateAttributes { attributes in
                attributes["http.request.method"] = method
                attributes["url.full"] = url
            }
            var headers = headers
            InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HTTPHeadersInjector())
            do {
                let result = try await body(headers)
                let code = status(result)
                span.attributes["http.response.status_code"] = code
                if code >= 500 { span.setStatus(SpanStatus(code: .error, message: "HTTP \(code)")) }
                return result
            } catch {
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
                throw error
            }
        }
    }

    /// `rpc.system`, `rpc.service`, `rpc.method` from `pkg.Service/Method`. Into a span's
    /// attributes in one `updateAttributes`: setting them one by one copies the span's whole
    /// attribute dictionary (and takes its lock) per attribute.
    public static func setRPCAttributes(_ attributes: inout SpanAttributes, procedure: String, wire: ConnectCallInfo.WireFamily) {
        let name = procedure.hasPrefix("/") ? procedure.dropFirst() : Substring(procedure)
        attributes["rpc.system"] = system(wire)
        if let slash = name.firstIndex(of: "/") {
            attributes["rpc.service"] = String(name[..<slash])
            attributes["rpc.method"] = String(name[name.index(after: slash)...])
        }
    }

    /// The call's status as the conventions spell it per system: gRPC's number
    /// (`rpc.grpc.status_code`), Connect's code name (`rpc.connect_rpc.error_code`, errors only).
    public static func record(code: ConnectCode?, wire: ConnectCallInfo.WireFamily, into attributes: inout SpanAttributes) {
        if wire == .connect {
            if let code { attributes["rpc.connect_rpc.error_code"] = code.rawValue }
        } else {
            attributes["rpc.grpc.status_code"] = code.map(GRPCWire.status(of:)) ?? 0
        }
    }
}

/// Writes trace headers into NIO's `HTTPHeaders` (what the client sends).
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
        carrier.replaceOrAdd(name: key, value: value)
    }
}
