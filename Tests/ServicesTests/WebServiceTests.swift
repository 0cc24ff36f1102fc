import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Services
import Testing

/// web: the built frontend as a browser needs it — files with their types, the app's routes
/// answered with index.html, hashed assets cached for good, the rest revalidated, gzip, and
/// nothing outside its root.
@Suite struct WebServiceTests {
    static let script = String(repeating: "console.log('devctl');\n", count: 100)

    private func withService(_ body: @escaping @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-web-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/assets", withIntermediateDirectories: true)
        try "<!doctype html><title>app</title>".write(toFile: root + "/index.html", atomically: true, encoding: .utf8)
        try Self.script.write(toFile: root + "/assets/app-ABC123.js", atomically: true, encoding: .utf8)
        try "secret".write(toFile: root + "/../devctl-web-outside.txt", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: root + "/../devctl-web-outside.txt") }
        try FileManager.default.createSymbolicLink(atPath: root + "/escape.txt", withDestinationPath: root + "/../devctl-web-outside.txt")
        var logger = Logger(label: "web-test")
        logger.logLevel = .warning
        let platform = try ServicePlatform(settings: WebService.settings(environment: ["WEB_ROOT": root]), logger: logger)
        let router = platform.makeRouter()
        try await WebService.make(platform: platform).addRoutes(to: router)
        try await platform.makeApplication(router: router).test(.router) { client in
            try await body(client, root)
        }
    }

    @Test func filesRoutesAndCaching() async throws {
        try await withService { client, _ in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[.cacheControl] == "no-cache")
            #expect(String(buffer: page.body).contains("<title>app</title>"))
            // A client-side route: the app's page.
            let route = try await client.execute(uri: "/gateway/live", method: .get)
            #expect(route.status == .ok && String(buffer: route.body).contains("<title>app</title>"))
            // A missing file (it has an extension): 404, never the page.
            #expect(try await client.execute(uri: "/assets/missing.js", method: .get).status == .notFound)
            let asset = try await client.execute(uri: "/assets/app-ABC123.js", method: .get)
            #expect(asset.status == .ok)
            #expect(asset.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(asset.headers[.cacheControl] == "public, max-age=31536000, immutable")
            #expect(String(buffer: asset.body) == Self.script)
            let etag = try #require(asset.headers[.eTag])
            let again = try await client.execute(uri: "/assets/app-ABC123.js", method: .get, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified && again.body.readableBytes == 0)
        }
    }

    @Test func gzipWhenAccepted() async throws {
        try await withService { client, _ in
            let zipped = try await client.execute(uri: "/assets/app-ABC123.js", method: .get, headers: [.acceptEncoding: "br, gzip"])
            #expect(zipped.headers[.contentEncoding] == "gzip")
            #expect(zipped.body.readableBytes < Self.script.utf8.count / 4)
            var body = zipped.body
            #expect(String(buffer: try body.decompress(with: .gzip())) == Self.script)
            let refused = try await client.execute(uri: "/assets/app-ABC123.js", method: .get, headers: [.acceptEncoding: "gzip;q=0"])
            #expect(refused.headers[.contentEncoding] == nil)
            #expect(String(buffer: refused.body) == Self.script)
        }
    }

    @Test func nothingOutsideTheRoot() async throws {
        try await withService { client, _ in
            for path in ["/../devctl-web-outside.txt", "/%2e%2e/devctl-web-outside.txt", "/escape.txt", "/assets/..%2f..%2fdevctl-web-outside.txt"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(!String(buffer: response.body).contains("secret"), "\(path) served a file outside the root")
            }
        }
    }

    @Test func aRootWithoutTheAppIsAStartupError() async throws {
        let platform = try ServicePlatform(settings: WebService.settings(environment: ["WEB_ROOT": "/nonexistent/dist"]))
        let error = await #expect(throws: ServiceStartupError.self) { _ = try await WebService.make(platform: platform) }
        #expect(error?.message.contains("frontend/build.sh") == true)
    }
}
