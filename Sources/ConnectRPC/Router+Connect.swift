import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwiftProtobuf

// Unary RPCs over Connect (connectrpc.com/docs/protocol), gRPC and gRPC-Web on one route,
// hand-written: no Swift library serves Connect, and none serves all three on one port. The
// protocol is chosen per request by Content-Type (see WireProtocol).

extension RouterMethods {
    /// Serves one unary RPC at `POST /<package>.<Service>/<Method>` (and `GET`, for methods
    /// marked `idempotency_level = NO_SIDE_EFFECTS`).
    @discardableResult
    public func connectUnary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        input: Input.Type = Input.self,
        allowGET: Bool = false,
        options: ConnectServerOptions = ConnectServerOptions(),
        handler: @escaping @Sendable (Input, ConnectContext) async throws -> Output
    ) -> Self {
        let unary = ConnectUnaryHandler(procedure: procedure, options: options, metrics: ConnectMetrics(procedure: procedure), handler: handler)
        post(RouterPath(procedure)) { request, context in
            await unary.respond(to: request, logger: context.logger)
        }
        if allowGET {
            get(RouterPath(procedure)) { request, context in
                await unary.respond(toGET: request, logger: context.logger)
            }
        }
        return self
    }
}

/// Decodes, runs and encodes one unary call; every failure becomes a Connect error response.
struct ConnectUnaryHandler<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>: Sendable {
    let procedure: String
    let options: ConnectServerOptions
    let metrics: ConnectMetrics
    let handler: @Sendable (Input, ConnectContext) async throws -> Output

    func respond(to request: Request, logger: Logger) async -> Response {
        switch WireProtocol(contentType: request.headers[.contentType]) {
        case let wire? where wire.isGRPCFamily:
            await measured { await respondGRPC(to: request, protocol: wire, logger: logger) }
        default:
            await measured { await respondUnmeasured(to: request, logger: logger) }
        }
    }

    func respond(toGET request: Request, logger: Logger) async -> Response {
        await measured { await respondUnmeasuredGET(to: request, logger: logger) }
    }

    /// Records the call's Connect code and duration (metrics, and the request log's outcome).
    private func measured(_ respond: () async -> (Response, code: String)) async -> Response {
        let start = ContinuousClock.now
        let (response, code) = await respond()
        metrics.record(code: code, duration: ContinuousClock.now - start)
        return response
    }

    private func respondUnmeasured(to request: Request, logger: Logger) async -> (Response, code: String) {
        let acceptsGzip = AcceptedEncodings.accepts(request.headers[.acceptEncoding], "gzip")
        let arrival = ContinuousClock.now
        do {
            guard let codec = request.headers[.contentType].flatMap(ConnectCodec.init(contentType:)) else {
                var headers = HTTPFields()
                headers[.acceptPost] = "application/json, application/proto, application/grpc, application/grpc+proto, application/grpc+json, application/grpc-web, application/grpc-web+proto, application/grpc-web+json, application/grpc-web-text"
                return (Response(status: .unsupportedMediaType, headers: headers), "http_415")
            }
            try checkProtocolVersion(request.headers[.connectProtocolVersion])
            let gzipped = try ConnectCompression.isGzip(request.headers[.contentEncoding])
            var body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: options.maxRequestBytes)
            } catch is NIOTooManyBytesError {
                throw ConnectError(.resourceExhausted, "request message larger than \(options.maxRequestBytes) bytes")
            } catch {
                // The client went away (or the connection broke) while sending: not a size problem.
                throw ConnectError(.canceled, "the request body was not received completely")
            }
            if gzipped { body = try ConnectCompression.gunzip(body, limit: options.maxRequestBytes, what: "request message") }
            return (try await call(codec: codec, body: body, headers: request.headers, acceptsGzip: acceptsGzip, arrival: arrival, logger: logger), "ok")
        } catch {
            return errorResponse(error, logger: logger)
        }
    }

    /// `GET …?connect=v1&encoding=json&message=…[&base64=1][&compression=gzip]`.
    private func respondUnmeasuredGET(to request: Request, logger: Logger) async -> (Response, code: String) {
        let acceptsGzip = AcceptedEncodings.accepts(request.headers[.acceptEncoding], "gzip")
        let arrival = ContinuousClock.now
        do {
            // Decoded from the raw query to bytes: a binary message is not text.
            let query = QueryBytes.parse(request.uri.query ?? "")
            let text = { (key: String) in query[key].map { String(decoding: $0, as: UTF8.self) } }
            if let version = text("connect"), version != "v1" {
                throw ConnectError(.invalidArgument, "connect query parameter must be v1, got \(version)")
            }
            guard let encoding = text("encoding"), let codec = ConnectCodec(rawValue: encoding) else {
                throw ConnectError(.invalidArgument, "encoding query parameter must be json or proto")
            }
            let raw = query["message"] ?? []
            var body: ByteBuffer
            if text("base64") == "1" {
                guard let data = Data(base64URLEncoded: String(decoding: raw, as: UTF8.self)) else { throw ConnectError(.invalidArgument, "message is not valid base64") }
                body = ByteBuffer(bytes: data)
            } else {
                body = ByteBuffer(bytes: raw)
            }
            guard body.readableBytes <= options.maxRequestBytes else {
                throw ConnectError(.resourceExhausted, "request message larger than \(options.maxRequestBytes) bytes")
            }
            if try ConnectCompression.isGzip(text("compression")) {
                body = try ConnectCompression.gunzip(body, limit: options.maxRequestBytes, what: "request message")
            }
            return (try await call(codec: codec, body: body, headers: request.headers, acceptsGzip: acceptsGzip, arrival: arrival, logger: logger), "ok")
        } catch {
            return errorResponse(error, logger: logger)
        }
    }

    private func checkProtocolVersion(_ version: String?) throws {
        if let version, version != "1" {
            throw ConnectError(.invalidArgument, "Connect-Protocol-Version must be 1, got \"\(version)\"")
        }
    }

    private func call(codec: ConnectCodec, body: ByteBuffer, headers: HTTPFields, acceptsGzip: Bool, arrival: ContinuousClock.Instant, logger: Logger) async throws -> Response {
        let message: Input
        do {
            message = try codec.decode(Input.self, from: body)
        } catch {
            throw ConnectError(.invalidArgument, "cannot decode \(Input.protoMessageName) as \(codec.rawValue): \(error)")
        }
        let deadline = try Self.deadline(from: headers[.connectTimeoutMs], arrival: arrival)
        let context = ConnectContext(procedure: procedure, requestHeaders: headers, deadline: deadline, logger: logger)
        let output: Output
        do {
            output = try await Self.runHandler(before: deadline) { [handler, options, procedure] in
                try await options.interceptors.run(ConnectCallInfo(procedure: procedure, shape: .unary, wire: .connect), context: context) {
                    try await handler(message, context)
                }
            }
        } catch {
            // The error response keeps what the handler set (headers and trailers) before failing.
            throw HandlerFailure(underlying: error, metadata: context.responseHeaders, trailers: context.responseTrailers)
        }
        var payload = try codec.encode(output)
        var responseHeaders = ConnectMetadata.applicationOnly(context.responseMetadata)
        responseHeaders[.contentType] = codec.contentType
        if acceptsGzip, payload.readableBytes >= options.compressionMinBytes {
            payload = try ConnectCompression.gzip(payload)
            responseHeaders[.contentEncoding] = "gzip"
        }
        return Response(status: .ok, headers: responseHeaders, body: ResponseBody(byteBuffer: payload))
    }

    /// The deadline a `Connect-Timeout-Ms` header sets, counted from the request's arrival: a
    /// positive integer of 1 to 10 ASCII digits (no sign, no spaces), as the protocol says.
    static func deadline(from header: String?, arrival: ContinuousClock.Instant) throws -> ContinuousClock.Instant? {
        guard let header else { return nil }
        guard (1...10).contains(header.utf8.count), header.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let milliseconds = Int64(header), milliseconds > 0 else {
            throw ConnectError(.invalidArgument, "Connect-Timeout-Ms must be a positive integer of 1 to 10 digits, got \"\(header)\"")
        }
        return arrival.advanced(by: .milliseconds(milliseconds))
    }

    /// A handler's error with the response metadata it had set.
    struct HandlerFailure: Error {
        var underlying: any Error
        var metadata: HTTPFields
        var trailers: HTTPFields
    }

    /// Runs `operation`, answering deadline_exceeded at the deadline even if the operation
    /// ignores cancellation (it is cancelled, but not waited for: a task group would wait).
    static func runHandler<T: Sendable>(before deadline: ContinuousClock.Instant?, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let deadline else { return try await operation() }
        return try await EnforcedDeadline.$current.withValue(deadline) {
            try await withDeadline(deadline, operation) {
                ConnectError(.deadlineExceeded, "the deadline passed before the handler finished")
            }
        }
    }

    /// The Connect error a failure is answered with, and the headers and trailers the handler
    /// had set before it failed.
    func connectError(from error: any Error, logger: Logger) -> (ConnectError, headers: HTTPFields, trailers: HTTPFields) {
        guard let failure = error as? HandlerFailure else {
            return (ConnectError.answering(error, procedure: procedure, logger: logger), [:], [:])
        }
        return (ConnectError.answering(failure.underlying, procedure: procedure, logger: logger), failure.metadata, failure.trailers)
    }

    private func errorResponse(_ error: any Error, logger: Logger) -> (Response, code: String) {
        let (connectError, handlerHeaders, handlerTrailers) = connectError(from: error, logger: logger)
        var handlerMetadata = handlerHeaders
        for trailer in handlerTrailers {
            if let name = HTTPField.Name("trailer-" + trailer.name.canonicalName) { handlerMetadata.append(HTTPField(name: name, value: trailer.value)) }
        }
        // Only application metadata: an upstream error's Content-Length or Transfer-Encoding
        // would frame this response wrongly.
        var headers = ConnectMetadata.applicationOnly(handlerMetadata + connectError.metadata)
        headers[.contentType] = "application/json"
        let response = Response(status: connectError.code.httpStatus, headers: headers,
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: connectError.jsonBody())))
        return (response, connectError.code.rawValue)
    }
}

extension ConnectError {
    /// What a handler's error is answered with: its own Connect error, `canceled` for a
    /// cancellation, and `unknown` for anything else (logged; internal details stay off the wire).
    static func answering(_ error: any Error, procedure: String, logger: Logger) -> ConnectError {
        switch error {
        case let error as ConnectError:
            return error
        case is CancellationError:
            return ConnectError(.canceled, "the request was canceled")
        default:
            logger.error("handler failed", metadata: ["procedure": "\(procedure)", "error": "\(error)"])
            return ConnectError(.unknown, "internal error")
        }
    }
}

extension Data {
    /// Base64 in the URL-safe alphabet, padding optional (as Connect GET uses it).
    init?(base64URLEncoded text: String) {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        self.init(base64Encoded: standard)
    }
}
