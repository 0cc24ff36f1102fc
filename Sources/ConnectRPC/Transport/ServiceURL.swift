import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Another service's base URL, parsed once, and the one way to send it a request: cleartext
/// `http` on the calling loop's ``HTTP1Client``, `https` through AsyncHTTPClient (TLS). The
/// Connect client and the services' REST calls share it, so both transports fail the same way.
public struct ServiceURL: Sendable, CustomStringConvertible {
    /// The URL as configured, without a trailing slash.
    public let base: String
    private let route: Route

    private enum Route: Sendable {
        case plain(HTTP1Client.Endpoint, authority: String, pathPrefix: String)
        case asyncHTTPClient
    }

    public init(_ base: String) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        if let url = URL(string: self.base), url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty,
           url.query == nil, url.fragment == nil, url.user == nil {
            let bracketed = host.contains(":") ? "[\(host)]" : host
            let authority = url.port.map { "\(bracketed):\($0)" } ?? bracketed
            route = .plain(HTTP1Client.Endpoint(host: host, port: url.port ?? 80), authority: authority,
                           pathPrefix: url.path(percentEncoded: true))
        } else {
            route = .asyncHTTPClient
        }
    }

    public var description: String { base }

    /// Sends `method path` (appended to the base URL) and returns the whole response, the body
    /// up to `maxBodyBytes`, all before `deadline` (connecting, headers and body). Throws only
    /// ``HTTP1Client/Failure``; `.cannotConnect` means the request was never delivered.
    public func exchange(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
                         deadline: NIODeadline, maxBodyBytes: Int) async throws -> HTTP1Client.Response {
        switch route {
        case .plain(let endpoint, let authority, let pathPrefix):
            let request = HTTP1Client.Request(method: method, target: pathPrefix + path, authority: authority, headers: headers, body: body)
            return try await HTTP1Client.current.execute(request, to: endpoint, deadline: deadline, maxBodyBytes: maxBodyBytes)
        case .asyncHTTPClient:
            return try await exchangeOverAsyncHTTPClient(method, path, headers: headers, body: body, deadline: deadline, maxBodyBytes: maxBodyBytes)
        }
    }

    private func exchangeOverAsyncHTTPClient(_ method: HTTPMethod, _ path: String, headers: HTTPHeaders, body: ByteBuffer?,
                                             deadline: NIODeadline, maxBodyBytes: Int) async throws -> HTTP1Client.Response {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(body) }
        let httpClient = Self.sharedHTTPClient
        // AsyncHTTPClient's deadline stops at the headers; a server that stalls mid-body would
        // otherwise hang the call, so the whole exchange races the same deadline.
        let exchange: @Sendable () async throws -> HTTP1Client.Response = { [request] in
            let response = try await httpClient.execute(request, deadline: deadline)
            let body = try await response.body.collect(upTo: maxBodyBytes)
            return HTTP1Client.Response(status: response.status, headers: response.headers, body: body, bodyLength: body.readableBytes)
        }
        do {
            guard deadline != .distantFuture else { return try await exchange() }
            let remaining = deadline - .now()
            return try await withDeadline(ContinuousClock.now.advanced(by: .nanoseconds(remaining.nanoseconds)), exchange) {
                HTTP1Client.Failure.deadlineExceeded
            }
        } catch let failure as HTTP1Client.Failure {
            throw failure
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw HTTP1Client.Failure.deadlineExceeded
        } catch let error as HTTPClientError where error == .connectTimeout {
            throw HTTP1Client.Failure.cannotConnect("no connection to \(base) within the connect timeout")
        } catch is NIOConnectionError {
            throw HTTP1Client.Failure.cannotConnect("\(base): the name did not resolve or every address refused")
        } catch let error as IOError where [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            throw HTTP1Client.Failure.cannotConnect("\(base): \(error)")
        } catch is CancellationError {
            throw HTTP1Client.Failure.cancelled
        } catch is NIOTooManyBytesError {
            throw HTTP1Client.Failure.bodyTooLarge(limit: maxBodyBytes)
        } catch {
            throw HTTP1Client.Failure.connectionClosed
        }
    }

    /// The AsyncHTTPClient `https` calls share. Not `HTTPClient.shared`: that one decompresses
    /// bodies itself (Connect needs the raw bytes and Content-Encoding), follows redirects, and
    /// retries refused connections until the deadline instead of failing fast with unavailable.
    public static var sharedHTTPClient: HTTPClient { loopHTTPClients.current }

    /// The shared clients, one per event loop (each with its own connection pool on that loop).
    static let loopHTTPClients = PerEventLoop { loop in makeHTTPClient(connectTimeout: .seconds(10), on: loop) }

    /// An AsyncHTTPClient for service-to-service calls: no redirects followed, bodies left as
    /// sent (no decompression), a refused connection reported at once (no retry until the
    /// deadline), and up to 64 connections per host.
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
}
