import AsyncHTTPClient
import Foundation
import NIOCore

/// Asks a process whether it is ready: `GET url` answering 200 within a second.
enum ReadinessProbe {
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(1), read: .seconds(1)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    static func isReady(_ url: String) async -> Bool {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Connection", value: "close")
        guard let response = try? await client.execute(request, timeout: .seconds(1)) else { return false }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return response.status == .ok
    }
}
