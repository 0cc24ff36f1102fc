import NIOHTTP1

/// What an interceptor learns about a call: which procedure, in which shape, over which protocol.
public struct ConnectCallInfo: Sendable, Equatable {
    /// The four call shapes.
    public enum Shape: String, Sendable {
        case unary, serverStream = "server_stream", clientStream = "client_stream", bidiStream = "bidi_stream"
    }

    /// The protocol the call speaks.
    public enum WireFamily: String, Sendable {
        case connect, grpc, grpcWeb = "grpc_web"
    }

    /// `/package.Service/Method`.
    public let procedure: String
    public let shape: Shape
    public let wire: WireFamily

    public init(procedure: String, shape: Shape, wire: WireFamily) {
        self.procedure = procedure
        self.shape = shape
        self.wire = wire
    }
}

/// Code that runs around every call a server answers — any protocol, any shape — so logging,
/// metrics and tracing are written once (`ConnectServerOptions.interceptors`, outermost first).
/// `next` runs the rest of the chain and the handler; an interceptor may read the request's
/// metadata and add response headers and trailers through `context`, observe or replace the
/// outcome, or refuse the call by throwing (a ``ConnectError`` keeps its code). Streams: `next`
/// returns when the handler has finished the whole stream. Interceptors run under the call's
/// deadline, like the handler.
public protocol ConnectInterceptor: Sendable {
    func intercept<Result: Sendable>(_ call: ConnectCallInfo, context: ConnectContext,
                                     next: @escaping @Sendable () async throws -> Result) async throws -> Result
}

/// Code that runs around every call a ``ConnectClient`` makes (`ConnectClient.interceptors`,
/// outermost first): it may change the request headers it passes on (an auth token, a trace
/// header), and observe or replace the outcome. For a server stream, `next` returns when the
/// stream has been read to its end.
public protocol ConnectClientInterceptor: Sendable {
    func intercept<Result: Sendable>(_ call: ConnectCallInfo, headers: HTTPHeaders,
                                     next: @escaping @Sendable (HTTPHeaders) async throws -> Result) async throws -> Result
}

extension Array where Element == any ConnectInterceptor {
    /// `body` wrapped in every interceptor, the first outermost; no interceptors, no cost.
    func run<Result: Sendable>(_ call: @autoclosure () -> ConnectCallInfo, context: ConnectContext,
                               _ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        guard !isEmpty else { return try await body() }
        let info = call()
        var next = body
        for interceptor in reversed() {
            let inner = next
            next = { try await interceptor.intercept(info, context: context, next: inner) }
        }
        return try await next()
    }
}

extension Array where Element == any ConnectClientInterceptor {
    /// For streams also the call's client span when tracing is on (unary calls get theirs in
    /// ``ConnectClient/unary(_:_:as:headers:timeout:)``, around the response's decoding too).
    func run<Result: Sendable>(_ call: ConnectCallInfo, headers: HTTPHeaders, server: String? = nil,
                               _ body: @escaping @Sendable (HTTPHeaders) async throws -> Result) async throws -> Result {
        if call.shape != .unary, ConnectTracing.isEnabled {
            return try await ConnectTracing.clientSpan(call, server: server ?? "", headers: headers) { headers in
                try await runInterceptors(call, headers: headers, body)
            }
        }
        return try await runInterceptors(call, headers: headers, body)
    }

    private func runInterceptors<Result: Sendable>(_ call: ConnectCallInfo, headers: HTTPHeaders,
                                                   _ body: @escaping @Sendable (HTTPHeaders) async throws -> Result) async throws -> Result {
        guard !isEmpty else { return try await body(headers) }
        var next = body
        for interceptor in reversed() {
            let inner = next
            next = { headers in try await interceptor.intercept(call, headers: headers, next: inner) }
        }
        return try await next(headers)
    }
}

extension WireProtocol {
    var family: ConnectCallInfo.WireFamily {
        switch self {
        case .connectUnary, .connectStream: .connect
        case .grpc: .grpc
        case .grpcWeb: .grpcWeb
        }
    }
}
