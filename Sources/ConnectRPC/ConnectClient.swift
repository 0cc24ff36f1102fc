import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// Calls unary Connect RPCs over AsyncHTTPClient (hand-written, like the server side).
public struct ConnectClient: Sendable {
    /// `http://host:port` (no trailing slash needed).
    public var baseURL: String
    public var codec: ConnectCodec
    /// The client calls go through: the one given at init, else the shared client of the
    /// event loop the caller runs on (so that a call stays on that loop).
    public var httpClient: HTTPClient { ownHTTPClient ?? Self.sharedHTTPClient }
    private let ownHTTPClient: HTTPClient?
    /// Default timeout per call, sent as `Connect-Timeout-Ms`; `nil` waits as long as it takes.
    public var timeout: Duration?
    /// Gzip request bodies at least this large (`nil`: never).
    public var compressionMinBytes: Int?
    /// Largest response accepted.
    public var maxResponseBytes: Int

    /// `httpClient`: `nil` (the default) uses the shared clients, one per event loop, so that
    /// a call stays on the loop its caller runs on.
    public init(baseURL: String, codec: ConnectCodec = .proto, httpClient: HTTPClient? = nil,
                timeout: Duration? = nil, compressionMinBytes: Int? = 1024, maxResponseBytes: Int = 4 * 1024 * 1024) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.codec = codec
        ownHTTPClient = httpClient
        self.timeout = timeout
        self.compressionMinBytes = compressionMinBytes
        self.maxResponseBytes = maxResponseBytes
    }

    /// The HTTP client Connect clients share by default. Not `HTTPClient.shared`: that one
    /// decompresses bodies itself (Connect needs the raw bytes and Content-Encoding), follows
    /// redirects, and retries refused connections until the deadline instead of failing fast
    /// with unavailable.
    public static var sharedHTTPClient: HTTPClient { loopHTTPClients.current }

    /// The shared clients, one per event loop (each with its own connection pool on that loop).
    static let loopHTTPClients = PerEventLoop { loop in makeHTTPClient(connectTimeout: .seconds(10), on: loop) }

    /// An HTTP client for service-to-service calls: no redirects followed, bodies left as sent
    /// (no decompression), a refused connection reported at once (no retry until the deadline),
    /// and up to 64 connections per host (AsyncHTTPClient's default of 8 would queue a service's
    /// fan-in behind them).
    public static func makeHTTPClient(connectTimeout: TimeAmount, on group: any EventLoopGroup = HTTPClient.defaultEventLoopGroup) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout),
            decompression: .disabled
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        // No request span: nothing is bootstrapped to receive it, yet the no-op span costs a
        // little per call.
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: group, configuration: configuration)
    }

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
        var request = HTTPClientRequest(url: baseURL + procedure)
        request.method = .POST
        // The caller's metadata only; framing and protocol headers are this client's to set.
        request.headers = HTTPHeaders((headers ?? [:]).filter { ConnectMetadata.isApplicationHeader($0.name) }.map { ($0.name, $0.value) })
        request.headers.replaceOrAdd(name: "Content-Type", value: codec.contentType)
        request.headers.replaceOrAdd(name: "Connect-Protocol-Version", value: "1")
        request.headers.replaceOrAdd(name: "Accept-Encoding", value: "gzip")
        var body = try codec.encode(message)
        if let minimum = compressionMinBytes, body.readableBytes >= minimum {
            body = try ConnectCompression.gzip(body)
            request.headers.replaceOrAdd(name: "Content-Encoding", value: "gzip")
        }
        request.body = .bytes(body)
        let effectiveTimeout = timeout ?? self.timeout
        if let effectiveTimeout {
            let milliseconds = max(1, effectiveTimeout.components.seconds * 1000 + effectiveTimeout.components.attoseconds / 1_000_000_000_000_000)
            request.headers.replaceOrAdd(name: "Connect-Timeout-Ms", value: String(milliseconds))
        }

        let response: HTTPClientResponse
        var payload: ByteBuffer
        do {
            // One deadline around headers and body: AsyncHTTPClient's own timeout stops at the
            // headers, and a server that stalls mid-body would otherwise hang the call.
            // AsyncHTTPClient gets the same deadline, so that it abandons the request itself.
            let deadline = effectiveTimeout.map { NIODeadline.now() + TimeAmount($0) } ?? .distantFuture
            let httpClient = self.httpClient
            let exchange: @Sendable () async throws -> (HTTPClientResponse, ByteBuffer) = { [maxResponseBytes, request] in
                let response = try await httpClient.execute(request, deadline: deadline)
                return (response, try await response.body.collect(upTo: maxResponseBytes))
            }
            if let effectiveTimeout {
                (response, payload) = try await withDeadline(ContinuousClock.now.advanced(by: effectiveTimeout), exchange) {
                    ConnectError(.deadlineExceeded, "no response from \(procedure) within \(effectiveTimeout)")
                }
            } else {
                (response, payload) = try await exchange()
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ConnectError(.deadlineExceeded, "no response from \(baseURL)\(procedure) in time: \(error)")
        } catch let error as ConnectError {
            throw error
        } catch is CancellationError {
            throw ConnectError(.canceled, "the call to \(procedure) was canceled")
        } catch is NIOTooManyBytesError {
            throw ConnectError(.resourceExhausted, "response from \(procedure) larger than \(maxResponseBytes) bytes")
        } catch {
            throw ConnectError(.unavailable, "cannot reach \(baseURL)\(procedure): \(error)")
        }
        switch response.headers.first(name: "Content-Encoding")?.lowercased() {
        case nil, "", "identity":
            break
        case "gzip":
            payload = try ConnectCompression.gunzip(payload, limit: maxResponseBytes, what: "response of \(procedure)", corrupt: .internal)
        case let other?:
            throw ConnectError(.internal, "response of \(procedure) uses compression \"\(other)\", which was not offered (gzip, identity)")
        }
        guard response.status == .ok else {
            throw decodeError(response: response, payload: payload)
        }
        do {
            return Response(message: try codec.decode(Output.self, from: payload), headers: response.headers)
        } catch {
            throw ConnectError(.internal, "cannot decode the response of \(procedure) as \(Output.protoMessageName): \(error)")
        }
    }

    /// A Connect JSON error body when there is one, else the code inferred from the HTTP status.
    /// The error's metadata is the application's headers only (never Content-Length, Date …).
    private func decodeError(response: HTTPClientResponse, payload: ByteBuffer) -> ConnectError {
        var metadata = HTTPFields()
        for header in response.headers where ConnectMetadata.isApplicationHeader(header.name) {
            if let name = HTTPField.Name(header.name) { metadata.append(HTTPField(name: name, value: header.value)) }
        }
        let isJSON = response.headers.first(name: "Content-Type").flatMap(ConnectCodec.init(contentType:)) == .json
        if isJSON, var error = ConnectError.decode(jsonBody: Data(payload.readableBytesView)) {
            error.metadata = metadata
            return error
        }
        return ConnectError(ConnectCode(inferringFrom: Int(response.status.code)),
                            "HTTP \(response.status.code) \(response.status.reasonPhrase)", metadata: metadata)
    }
}

/// Request headers for generated clients (so generated code needs no NIOHTTP1 import).
public typealias ConnectHeaders = HTTPHeaders
