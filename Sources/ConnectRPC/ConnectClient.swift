import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// Calls unary Connect RPCs (hand-written, like the server side) through ``ServiceURL``:
/// cleartext on the calling loop's ``HTTP1Client``, `https` over AsyncHTTPClient.
public struct ConnectClient: Sendable {
    /// `http://host:port` (no trailing slash needed).
    public var baseURL: String { service.base }
    public var codec: ConnectCodec
    /// Default timeout per call, sent as `Connect-Timeout-Ms`; `nil` waits as long as it takes.
    public var timeout: Duration?
    /// Gzip request bodies at least this large (`nil`: never).
    public var compressionMinBytes: Int?
    /// Largest response accepted.
    public var maxResponseBytes: Int
    /// Run around every call, outermost first (see ``ConnectClientInterceptor``).
    public var interceptors: [any ConnectClientInterceptor] = []
    /// The protocol calls speak (streams over Connect or gRPC; gRPC-Web is unary only here).
    public var wire: ClientWire

    /// The protocols this client speaks: Connect and gRPC-Web over HTTP/1.1, gRPC over h2c.
    public enum ClientWire: String, Sendable, CaseIterable {
        /// Connect (`application/json|proto`): the default.
        case connect
        /// gRPC-Web (`application/grpc-web+proto|json`): the status in a trailer frame.
        case grpcWeb = "grpc-web"
        /// gRPC over h2c (HTTP/2 with prior knowledge): every call shape, bidi included.
        case grpc
    }
    private let service: ServiceURL

    public init(baseURL: String, codec: ConnectCodec = .proto, timeout: Duration? = nil,
                compressionMinBytes: Int? = 1024, maxResponseBytes: Int = 4 * 1024 * 1024, wire: ClientWire = .connect) {
        service = ServiceURL(baseURL)
        self.codec = codec
        self.timeout = timeout
        self.compressionMinBytes = compressionMinBytes
        self.maxResponseBytes = maxResponseBytes
        self.wire = wire
    }

    /// The AsyncHTTPClient `https` calls share (see ``ServiceURL/sharedHTTPClient``).
    public static var sharedHTTPClient: HTTPClient { ServiceURL.sharedHTTPClient }

    /// A response message with the headers it came with (trailers arrive as `trailer-` headers).
    public struct Response<Message: SwiftProtobuf.Message>: Sendable {
        public var message: Message
        public var headers: HTTPHeaders
    }

    /// Calls `procedure` (`/package.Service/Method`); throws ``ConnectError`` for every failure.
    public func unary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        _ message: Input,
        as output: Output.Type = Output.self,
        headers: HTTPHeaders? = nil,
        timeout: Duration? = nil
    ) async throws -> Response<Output> {
        guard ConnectTracing.isEnabled else {
            return try await untracedUnary(procedure, message, as: Output.self, headers: headers, timeout: timeout)
        }
        let family: ConnectCallInfo.WireFamily = switch wire {
        case .connect: .connect
        case .grpc: .grpc
        case .grpcWeb: .grpcWeb
        }
        return try await ConnectTracing.clientSpan(ConnectCallInfo(procedure: procedure, shape: .unary, wire: family), server: service.base, headers: headers) { headers in
            try await untracedUnary(procedure, message, as: Output.self, headers: headers, timeout: timeout)
        }
    }

    private func untracedUnary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String, _ message: Input, as output: Output.Type, headers: HTTPHeaders?, timeout: Duration?
    ) async throws -> Response<Output> {
        switch wire {
        case .grpcWeb: return try await grpcWebUnary(procedure, message, as: Output.self, headers: headers, timeout: timeout)
        case .grpc: return try await grpcUnary(procedure, message, as: Output.self, headers: headers, timeout: timeout)
        case .connect: break
        }
        var headers = Self.applicationHeaders(headers)
        headers.replaceOrAdd(name: "Content-Type", value: codec.contentType)
        headers.replaceOrAdd(name: "Connect-Protocol-Version", value: "1")
        headers.replaceOrAdd(name: "Accept-Encoding", value: "gzip")
        var body = try codec.encode(message)
        if let minimum = compressionMinBytes, body.readableBytes >= minimum {
            body = try ConnectCompression.gzip(body)
            headers.replaceOrAdd(name: "Content-Encoding", value: "gzip")
        }
        let effectiveTimeout = timeout ?? self.timeout
        if let effectiveTimeout {
            headers.replaceOrAdd(name: "Connect-Timeout-Ms", value: Self.connectTimeoutMs(effectiveTimeout))
        }
        let response = try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: .unary, wire: .connect), headers: headers) { [self, body] headers in
            try await exchange(procedure, headers: headers, body: body, timeout: effectiveTimeout)
        }
        var payload = response.body
        switch response.headers.first(name: "Content-Encoding")?.lowercased() {
        case nil, "", "identity":
            break
        case "gzip":
            payload = try ConnectCompression.gunzip(payload, limit: maxResponseBytes, what: "response of \(procedure)", corrupt: .internal)
        case let other?:
            throw ConnectError(.internal, "response of \(procedure) uses compression \"\(other)\", which was not offered (gzip, identity)")
        }
        guard response.status == .ok else {
            throw decodeError(status: response.status, headers: response.headers, payload: payload)
        }
        do {
            return Response(message: try codec.decode(Output.self, from: payload), headers: response.headers)
        } catch {
            throw ConnectError(.internal, "cannot decode the response of \(procedure) as \(Output.protoMessageName): \(error)")
        }
    }

    /// Sends one request and returns the whole response, transport failures as Connect errors.
    func exchange(_ procedure: String, headers: HTTPHeaders, body: ByteBuffer, timeout: Duration?) async throws -> HTTP1Client.Response {
        let deadline = timeout.map { NIODeadline.now() + TimeAmount($0) } ?? .distantFuture
        do {
            return try await service.exchange(.POST, procedure, headers: headers, body: body, deadline: deadline, maxBodyBytes: maxResponseBytes)
        } catch let failure as HTTP1Client.Failure {
            switch failure {
            case .deadlineExceeded:
                throw ConnectError(.deadlineExceeded, "no response from \(procedure) within \(timeout.map { "\($0)" } ?? "its deadline")")
            case .bodyTooLarge:
                throw ConnectError(.resourceExhausted, "response from \(procedure) larger than \(maxResponseBytes) bytes")
            case .cancelled:
                throw ConnectError(.canceled, "the call to \(procedure) was canceled")
            case .cannotConnect, .connectionClosed, .malformedResponse:
                throw ConnectError(.unavailable, "cannot reach \(baseURL)\(procedure): \(failure)")
            case .invalidRequest:
                throw ConnectError(.internal, "cannot call \(procedure): \(failure)")
            }
        }
    }

    /// A Connect JSON error body when there is one, else the code inferred from the HTTP status.
    /// The error's metadata is the application's headers only (never Content-Length, Date …).
    private func decodeError(status: HTTPResponseStatus, headers: HTTPHeaders, payload: ByteBuffer) -> ConnectError {
        let metadata = Self.applicationMetadata(headers)
        let isJSON = headers.first(name: "Content-Type").flatMap(ConnectCodec.init(contentType:)) == .json
        if isJSON, var error = ConnectError.decode(jsonBody: Data(payload.readableBytesView)) {
            error.metadata = metadata
            return error
        }
        return ConnectError(ConnectCode(inferringFrom: Int(status.code)), "HTTP \(status.code) \(status.reasonPhrase)", metadata: metadata)
    }
}

extension ConnectClient {
    /// The caller's metadata only, whatever the protocol: framing and protocol headers are this
    /// client's to set.
    static func applicationHeaders(_ headers: HTTPHeaders?) -> HTTPHeaders {
        HTTPHeaders((headers ?? [:]).filter { ConnectMetadata.isApplicationHeader($0.name) }.map { ($0.name, $0.value) })
    }

    /// A response's application headers as an error's metadata (never Content-Length, Date …).
    static func applicationMetadata(_ headers: HTTPHeaders) -> HTTPFields {
        var metadata = HTTPFields()
        for header in headers where ConnectMetadata.isApplicationHeader(header.name) {
            if let name = HTTPField.Name(header.name) { metadata.append(HTTPField(name: name, value: header.value)) }
        }
        return metadata
    }

    /// `Connect-Timeout-Ms` for a timeout: whole milliseconds, at least 1.
    static func connectTimeoutMs(_ timeout: Duration) -> String {
        String(max(1, timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
    }
}

/// Request headers for generated clients (so generated code needs no NIOHTTP1 import).
public typealias ConnectHeaders = HTTPHeaders
