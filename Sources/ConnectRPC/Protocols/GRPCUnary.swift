import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SwiftProtobuf

extension HTTPField.Name {
    static let grpcStatus = HTTPField.Name("grpc-status")!
    static let grpcMessage = HTTPField.Name("grpc-message")!
    static let grpcStatusDetailsBin = HTTPField.Name("grpc-status-details-bin")!
    static let grpcTimeout = HTTPField.Name("grpc-timeout")!
    static let grpcEncoding = HTTPField.Name("grpc-encoding")!
    static let grpcAcceptEncoding = HTTPField.Name("grpc-accept-encoding")!
}

/// A unary call over gRPC (HTTP/2: status in HTTP trailers) or gRPC-Web (HTTP/1.1 or 2: status
/// in a trailer frame at the end of the body), on the same route and handler as Connect.
extension ConnectUnaryHandler {
    func respondGRPC(to request: Request, protocol wire: WireProtocol, logger: Logger) async -> (Response, code: String) {
        let arrival = ContinuousClock.now
        let codec: ConnectCodec
        let isWeb: Bool
        let isText: Bool
        switch wire {
        case .grpc(let c): (codec, isWeb, isText) = (c, false, false)
        case .grpcWeb(let c, let text): (codec, isWeb, isText) = (c, true, text)
        case .connectUnary, .connectStream: preconditionFailure("Connect requests are answered elsewhere")
        }
        let acceptsGzip = request.headers[.grpcAcceptEncoding].map { AcceptedEncodings.accepts($0, "gzip") } ?? false
        var headers = HTTPFields()
        headers[.contentType] = wire.responseContentType
        headers[.grpcAcceptEncoding] = "gzip,identity"
        var trailers = HTTPFields()
        var messages: [ByteBuffer] = []
        let code: String
        do {
            let deadline = try Self.grpcDeadline(request.headers[.grpcTimeout], arrival: arrival)
            let compressed = try Self.requestIsGzip(request.headers[.grpcEncoding])
            let envelope = try await Self.onlyMessage(of: request, text: isText, limit: options.maxRequestBytes)
            var payload = envelope.payload
            if envelope.flags.contains(.compressed) {
                guard compressed else { throw ConnectError(.internal, "a message is marked compressed but the request has no grpc-encoding") }
                payload = try ConnectCompression.gunzip(payload, limit: options.maxRequestBytes, what: "request message")
            }
            let message: Input
            do {
                message = try codec.decode(Input.self, from: payload)
            } catch {
                throw ConnectError(.invalidArgument, "cannot decode \(Input.protoMessageName) as \(codec.rawValue): \(error)")
            }
            let context = ConnectContext(procedure: procedure, requestHeaders: request.headers, deadline: deadline, logger: logger)
            let output: Output
            do {
                output = try await Self.runHandler(before: deadline) { [handler, options, procedure] in
                    try await options.interceptors.run(ConnectCallInfo(procedure: procedure, shape: .unary, wire: wire.family), context: context) {
                        try await handler(message, context)
                    }
                }
            } catch {
                throw HandlerFailure(underlying: error, metadata: context.responseHeaders, trailers: context.responseTrailers)
            }
            var encoded = try codec.encode(output)
            var flags: Envelope.Flags = []
            if acceptsGzip, encoded.readableBytes >= options.compressionMinBytes {
                encoded = try ConnectCompression.gzip(encoded)
                flags = .compressed
                headers[.grpcEncoding] = "gzip"
            }
            headers.append(contentsOf: ConnectMetadata.applicationOnly(context.responseHeaders))
            trailers = StreamSink.grpcStatusFields(nil, trailers: ConnectMetadata.applicationOnly(context.responseTrailers))
            messages.append(Envelope(flags: flags, payload: encoded).encoded())
            code = "ok"
        } catch {
            let (connectError, handlerHeaders, handlerTrailers) = connectError(from: error, logger: logger)
            headers.append(contentsOf: ConnectMetadata.applicationOnly(handlerHeaders))
            trailers = StreamSink.grpcStatusFields(connectError, trailers: ConnectMetadata.applicationOnly(handlerTrailers + connectError.metadata))
            code = connectError.code.rawValue
        }
        if isWeb {
            // The trailers travel as the body's last frame: HTTP/1.1 browsers cannot read real ones.
            var body = ByteBuffer()
            for var message in messages { body.writeBuffer(&message) }
            var frame = StreamSink.grpcWebTrailerFrame(trailers)
            body.writeBuffer(&frame)
            if isText { body = ByteBuffer(string: Data(body.readableBytesView).base64EncodedString()) }
            return (Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: body)), code)
        }
        if ConnectTransport.isHTTP2 {
            // One write: the message as a one-buffer body, the trailers in the head, moved to
            // the stream's end by the transport (``TrailersFromHead``).
            headers.append(contentsOf: TrailersFromHead.carryingTrailers(trailers))
            return (Response(status: .ok, headers: headers, body: messages.first.map { ResponseBody(byteBuffer: $0) } ?? ResponseBody()), code)
        }
        let (finalMessages, finalTrailers) = (messages, trailers)
        let body = ResponseBody { writer in
            for message in finalMessages { try await writer.write(message) }
            try await writer.finish(finalTrailers)
        }
        return (Response(status: .ok, headers: headers, body: body), code)
    }

    /// `grpc-timeout` as a deadline from the request's arrival; malformed is invalid_argument.
    static func grpcDeadline(_ header: String?, arrival: ContinuousClock.Instant) throws -> ContinuousClock.Instant? {
        guard let header else { return nil }
        guard let timeout = GRPCWire.parseTimeout(header) else {
            throw ConnectError(.invalidArgument, "grpc-timeout must be 1 to 8 digits and a unit (H, M, S, m, u, n), got \"\(header)\"")
        }
        return arrival.advanced(by: timeout)
    }

    /// Whether messages may be gzip-compressed (`grpc-encoding`); other encodings are refused.
    static func requestIsGzip(_ encoding: String?) throws -> Bool {
        switch encoding?.lowercased() {
        case nil, "", "identity": return false
        case "gzip": return true
        case let other?: throw ConnectError(.unimplemented, "grpc-encoding \"\(other)\" is not supported (supported: gzip, identity)")
        }
    }

    /// The one message of a unary request body: none or two are errors, as in connect-go.
    static func onlyMessage(of request: Request, text: Bool, limit: Int) async throws -> Envelope {
        var reader = EnvelopeReader(maxMessageBytes: limit)
        var message: Envelope?
        do {
            if text {
                // Base64 of the whole stream; at most 4/3 of the limit plus a frame header.
                let encoded = try await request.body.collect(upTo: limit / 3 * 4 + 64)
                guard let data = Data(base64Encoded: String(buffer: encoded)) else {
                    throw ConnectError(.invalidArgument, "grpc-web-text body is not base64")
                }
                reader.append(ByteBuffer(bytes: data))
                message = try reader.next()
            } else {
                for try await chunk in request.body {
                    reader.append(chunk)
                    while let envelope = try reader.next() {
                        guard message == nil else { throw ConnectError(.unimplemented, "unary request has more than one message") }
                        message = envelope
                    }
                }
            }
            try reader.finish()
        } catch let error as ConnectError {
            throw error
        } catch let failure as EnvelopeReader.Failure {
            switch failure {
            case .messageTooLarge: throw ConnectError(.resourceExhausted, "request \(failure)")
            case .truncated: throw ConnectError(.invalidArgument, "request body: \(failure)")
            }
        } catch is NIOTooManyBytesError {
            throw ConnectError(.resourceExhausted, "request message larger than \(limit) bytes")
        } catch {
            // The client went away (or the connection broke) while sending.
            throw ConnectError(.canceled, "the request body was not received completely")
        }
        guard let message else { throw ConnectError(.unimplemented, "unary request has no message") }
        return message
    }
}
