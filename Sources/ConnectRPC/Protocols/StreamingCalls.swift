import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftProtobuf

extension HTTPField.Name {
    static let connectContentEncoding = HTTPField.Name("Connect-Content-Encoding")!
    static let connectAcceptEncoding = HTTPField.Name("Connect-Accept-Encoding")!
}

extension RouterMethods {
    /// Serves one server-streaming RPC at `POST /<package>.<Service>/<Method>` over Connect
    /// streaming (`application/connect+proto|json`), gRPC and gRPC-Web: one request message, then
    /// the messages the handler sends, then the end of the stream with its status.
    @discardableResult
    public func connectServerStream<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        input: Input.Type = Input.self,
        output: Output.Type = Output.self,
        options: ConnectServerOptions = ConnectServerOptions(),
        handler: @escaping @Sendable (Input, ConnectContext, ServerStream<Output>) async throws -> Void
    ) -> Self {
        connectStream(procedure, shape: .server, options: options) { (requests: RequestStream<Input>, context, stream: ServerStream<Output>) in
            try await handler(try await requests.onlyMessage(), context, stream)
        }
    }

    /// Serves one client-streaming RPC: the client sends any number of messages, the handler
    /// answers once after reading them (HTTP/1.1 or HTTP/2).
    @discardableResult
    public func connectClientStream<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        input: Input.Type = Input.self,
        output: Output.Type = Output.self,
        options: ConnectServerOptions = ConnectServerOptions(),
        handler: @escaping @Sendable (RequestStream<Input>, ConnectContext) async throws -> Output
    ) -> Self {
        connectStream(procedure, shape: .client, options: options) { (requests: RequestStream<Input>, context, stream: ServerStream<Output>) in
            try await stream.send(try await handler(requests, context))
        }
    }

    /// Serves one bidirectional-streaming RPC: the handler reads and sends at the same time.
    /// Needs HTTP/2 (an HTTP/1.1 request is refused with 505, as connect-go does: HTTP/1.1
    /// cannot carry a response while the request is still being sent).
    @discardableResult
    public func connectBidiStream<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        input: Input.Type = Input.self,
        output: Output.Type = Output.self,
        options: ConnectServerOptions = ConnectServerOptions(),
        handler: @escaping @Sendable (RequestStream<Input>, ConnectContext, ServerStream<Output>) async throws -> Void
    ) -> Self {
        connectStream(procedure, shape: .bidi, options: options, handler: handler)
    }

    private func connectStream<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String, shape: StreamShape, options: ConnectServerOptions,
        handler: @escaping @Sendable (RequestStream<Input>, ConnectContext, ServerStream<Output>) async throws -> Void
    ) -> Self {
        let streaming = StreamingHandler(procedure: procedure, shape: shape, options: options, metrics: ConnectMetrics(procedure: procedure), handler: handler)
        post(RouterPath(procedure)) { request, context in
            await streaming.respond(to: request, logger: context.logger)
        }
        return self
    }
}

/// The streaming call shapes (unary has its own, cheaper path).
enum StreamShape: Sendable {
    case server, client, bidi

    var callShape: ConnectCallInfo.Shape {
        switch self {
        case .server: .serverStream
        case .client: .clientStream
        case .bidi: .bidiStream
        }
    }
}

/// Which HTTP version carries the request being answered: set by ``HTTP1AndH2CChannel`` for its
/// HTTP/2 streams (Hummingbird's request head does not say).
enum ConnectTransport {
    @TaskLocal static var isHTTP2 = false
}

/// One streaming call on any of the three protocols. The response starts (200, headers) before
/// the handler runs; how the call ended travels at the end of the stream: Connect's end-stream
/// message, gRPC's HTTP/2 trailers, or gRPC-Web's trailer frame.
struct StreamingHandler<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>: Sendable {
    let procedure: String
    let shape: StreamShape
    let options: ConnectServerOptions
    let metrics: ConnectMetrics
    let handler: @Sendable (RequestStream<Input>, ConnectContext, ServerStream<Output>) async throws -> Void

    static var acceptedContentTypes: String {
        "application/connect+proto, application/connect+json, application/grpc, application/grpc+proto, application/grpc+json, "
            + "application/grpc-web, application/grpc-web+proto, application/grpc-web+json, application/grpc-web-text"
    }

    func respond(to request: Request, logger: Logger) async -> Response {
        let arrival = ContinuousClock.now
        guard let wire = WireProtocol(contentType: request.headers[.contentType]), wire != .connectUnary(wire.codec) else {
            var headers = HTTPFields()
            headers[.acceptPost] = Self.acceptedContentTypes
            metrics.record(code: "http_415", duration: ContinuousClock.now - arrival)
            return Response(status: .unsupportedMediaType, headers: headers)
        }
        if shape == .bidi && !ConnectTransport.isHTTP2 {
            metrics.record(code: "http_505", duration: ContinuousClock.now - arrival)
            return Response(status: .httpVersionNotSupported, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "\(procedure) is a bidirectional stream: it needs HTTP/2 (h2c with prior knowledge)\n")))
        }
        let isGRPC = wire.isGRPCFamily
        let acceptsGzip = AcceptedEncodings.accepts(request.headers[isGRPC ? .grpcAcceptEncoding : .connectAcceptEncoding], "gzip")
        var headers = HTTPFields()
        headers[.contentType] = wire.responseContentType
        if isGRPC {
            headers[.grpcAcceptEncoding] = "gzip,identity"
            if acceptsGzip { headers[.grpcEncoding] = "gzip" }
        } else {
            headers[.connectAcceptEncoding] = "gzip"
            if acceptsGzip { headers[.connectContentEncoding] = "gzip" }
        }
        // What can be checked before the stream starts; a failure ends the stream at once.
        let opened: Result<(RequestStream<Input>, ContinuousClock.Instant?), any Error>
        do {
            opened = .success(try openCall(request, wire: wire, arrival: arrival))
        } catch {
            opened = .failure(error)
        }
        let (procedure, metrics, handler, gzipAt) = (procedure, metrics, handler, acceptsGzip ? options.compressionMinBytes : nil)
        let (shape, interceptors) = (shape, options.interceptors)
        let body = ResponseBody { writer in
            let sink = StreamSink(writer: writer, wire: wire, gzipAt: gzipAt)
            var failure: (any Error)?
            var trailers = HTTPFields()
            switch opened {
            case .failure(let error):
                failure = error
            case .success(let (requests, deadline)):
                let context = ConnectContext(procedure: procedure, requestHeaders: request.headers, deadline: deadline, logger: logger)
                let stream = ServerStream<Output> { output in try await sink.send(try wire.codec.encode(output)) }
                do {
                    try await ConnectUnaryHandler<Input, Output>.runHandler(before: deadline) {
                        try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: shape.callShape, wire: wire.family), context: context) {
                            try await handler(requests, context, stream)
                        }
                    }
                } catch {
                    failure = error
                }
                trailers = context.responseTrailers
            }
            let error = failure.map { ConnectError.answering($0, procedure: procedure, logger: logger) }
            metrics.record(code: error?.code.rawValue ?? "ok", duration: ContinuousClock.now - arrival)
            try await sink.finish(error: error, trailers: ConnectMetadata.applicationOnly(trailers + (error?.metadata ?? [:])))
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// The request's deadline and its messages, as they will arrive.
    private func openCall(_ request: Request, wire: WireProtocol, arrival: ContinuousClock.Instant) throws -> (RequestStream<Input>, ContinuousClock.Instant?) {
        let deadline: ContinuousClock.Instant?
        let compressed: Bool
        if wire.isGRPCFamily {
            deadline = try ConnectUnaryHandler<Input, Output>.grpcDeadline(request.headers[.grpcTimeout], arrival: arrival)
            compressed = try ConnectUnaryHandler<Input, Output>.requestIsGzip(request.headers[.grpcEncoding])
        } else {
            deadline = try ConnectUnaryHandler<Input, Output>.deadline(from: request.headers[.connectTimeoutMs], arrival: arrival)
            compressed = try ConnectUnaryHandler<Input, Output>.requestIsGzip(request.headers[.connectContentEncoding])
        }
        var isText = false
        if case .grpcWeb(_, let text) = wire { isText = text }
        let requests = RequestStream<Input>(body: request.body, codec: wire.codec, compressed: compressed, base64: isText, limit: options.maxRequestBytes)
        return (requests, deadline)
    }
}

/// The response side of a stream: frames messages (compressed when worth it), refuses sends
/// after the end, and ends the stream the protocol's way. The handler's sends and the end
/// never write at the same time: the end waits for a send under way.
final class StreamSink: @unchecked Sendable {
    private struct State {
        var closed = false
        var busy = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    // Written only by whoever set `busy` (a send) or closed the stream with nothing busy.
    private var writer: any ResponseBodyWriter
    private let state = NIOLockedValueBox(State())
    private let wire: WireProtocol
    private let gzipAt: Int?

    init(writer: any ResponseBodyWriter, wire: WireProtocol, gzipAt: Int?) {
        self.writer = writer
        self.wire = wire
        self.gzipAt = gzipAt
    }

    func send(_ message: ByteBuffer) async throws {
        try state.withLockedValue { state in
            guard !state.closed else { throw ConnectError(.canceled, "the stream has ended") }
            guard !state.busy else { throw ConnectError(.internal, "ServerStream.send called while another send was under way") }
            state.busy = true
        }
        defer {
            let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                state.busy = false
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        var payload = message
        var flags: Envelope.Flags = []
        if let gzipAt, payload.readableBytes >= gzipAt {
            payload = try ConnectCompression.gzip(payload)
            flags = .compressed
        }
        try await writer.write(encodeForWire(Envelope(flags: flags, payload: payload).encoded()))
    }

    /// Ends the stream with `error` (nil: success) and the handler's trailers.
    func finish(error: ConnectError?, trailers: HTTPFields) async throws {
        let mustWait = state.withLockedValue { state -> Bool in
            state.closed = true
            return state.busy
        }
        if mustWait {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let free = state.withLockedValue { state -> Bool in
                    guard state.busy else { return true }
                    state.waiter = continuation
                    return false
                }
                if free { continuation.resume() }
            }
        }
        switch wire {
        case .grpc:
            try await writer.finish(Self.grpcStatusFields(error, trailers: trailers))
        case .grpcWeb:
            let block = Self.grpcWebTrailerFrame(Self.grpcStatusFields(error, trailers: trailers))
            try await writer.write(encodeForWire(block))
            try await writer.finish(nil)
        case .connectStream, .connectUnary:
            try await writer.write(Envelope(flags: .endStream, payload: ByteBuffer(bytes: Self.endStreamJSON(error, trailers: trailers))).encoded())
            try await writer.finish(nil)
        }
    }

    /// gRPC-Web text mode carries base64; each write is its own padded chunk.
    private func encodeForWire(_ frame: ByteBuffer) -> ByteBuffer {
        guard case .grpcWeb(_, text: true) = wire else { return frame }
        return ByteBuffer(string: Data(frame.readableBytesView).base64EncodedString())
    }

    static func grpcStatusFields(_ error: ConnectError?, trailers: HTTPFields) -> HTTPFields {
        var fields = trailers
        guard let error else {
            fields[.grpcStatus] = "0"
            return fields
        }
        fields[.grpcStatus] = String(GRPCWire.status(of: error.code))
        if !error.message.isEmpty { fields[.grpcMessage] = GRPCWire.percentEncode(error.message) }
        if !error.details.isEmpty { fields[.grpcStatusDetailsBin] = GRPCWire.statusDetails(error) }
        return fields
    }

    /// gRPC-Web's last frame: the trailers as HTTP/1-style lines.
    static func grpcWebTrailerFrame(_ fields: HTTPFields) -> ByteBuffer {
        var block = ""
        for field in fields { block += "\(field.name.canonicalName): \(field.value)\r\n" }
        return Envelope(flags: .trailers, payload: ByteBuffer(string: block)).encoded()
    }

    /// Connect's end-of-stream message: `{"error": {...}, "metadata": {"name": ["value"]}}`.
    static func endStreamJSON(_ error: ConnectError?, trailers: HTTPFields) -> Data {
        var object: [String: Any] = [:]
        if let error {
            var wire: [String: Any] = ["code": error.code.rawValue]
            if !error.message.isEmpty { wire["message"] = error.message }
            if !error.details.isEmpty { wire["details"] = error.details.map { ["type": $0.type, "value": $0.value] } }
            object["error"] = wire
        }
        if !trailers.isEmpty {
            var metadata: [String: [String]] = [:]
            for field in trailers { metadata[field.name.canonicalName, default: []].append(field.value) }
            object["metadata"] = metadata
        }
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    }
}
