import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// web (port 3001, static): the built frontend (`frontend/dist`, `WEB_ROOT`), served through
/// the edge at `/` so the page calls the APIs on its own origin.
///
/// - A file under the root: its type; `assets/` (names carry a content hash) cached for a year,
///   everything else revalidated (`no-cache` + ETag → 304); gzip when the client accepts it
///   (compressed once per file version, kept in memory).
/// - Any other path without a file extension: `index.html` (the app routes on the client).
/// - Paths that leave the root (`..`, symlinks out) are 404, never a file elsewhere.
public struct WebService: BundledService {
    public static let name = "web"
    public static let defaultPort = 3001

    let platform: ServicePlatform
    let root: String
    let compressed = NIOLockedValueBox<[String: (version: String, bytes: ByteBuffer)]>([:])

    public static func make(platform: ServicePlatform) async throws -> Self {
        let configured = platform.settings.environment["WEB_ROOT"] ?? "frontend/dist"
        let root = URL(fileURLWithPath: configured, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
            .resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root + "/index.html", isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ServiceStartupError(service: name, message: "WEB_ROOT \(root) has no index.html: build the frontend first (sh frontend/build.sh; devctl up runs it)")
        }
        return Self(platform: platform, root: root)
    }

    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: nil, environment: environment)
    }

    public func addRoutes(to router: Router<BasicRequestContext>) {
        for path in ["/", "/**"] {
            router.get(RouterPath(path)) { request, _ in try serve(request) }
            router.head(RouterPath(path)) { request, _ in try serve(request) }
        }
    }

    static let types: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "mjs": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8", "json": "application/json", "map": "application/json", "svg": "image/svg+xml",
        "png": "image/png", "jpg": "image/jpeg", "ico": "image/x-icon", "txt": "text/plain; charset=utf-8", "woff2": "font/woff2",
    ]
    static let compressible: Set<String> = ["html", "js", "mjs", "css", "json", "map", "svg", "txt"]

    private func serve(_ request: Request) throws -> Response {
        let path = request.uri.path
        var file = resolve(path)
        if file == nil, !(path.split(separator: "/").last ?? "").contains(".") {
            file = root + "/index.html" // a client-side route
        }
        guard let file, let attributes = try? FileManager.default.attributesOfItem(atPath: file),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            return try platform.jsonResponse(.notFound, ["error": "no such file: \(path)"])
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let version = "\(size)-\(Int(modified * 1000))"
        let etag = "\"\(version)\""
        let type = (file as NSString).pathExtension.lowercased()
        var headers = HTTPFields()
        headers[.contentType] = Self.types[type] ?? "application/octet-stream"
        headers[.eTag] = etag
        headers[.cacheControl] = file.hasPrefix(root + "/assets/") ? "public, max-age=31536000, immutable" : "no-cache"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[.vary] = "Accept-Encoding"
        if request.headers[.ifNoneMatch]?.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) == true {
            return Response(status: .notModified, headers: headers)
        }
        let gzip = Self.compressible.contains(type) && size > 512 && Self.accepts(request.headers[.acceptEncoding], "gzip")
        if gzip, let body = compressedBytes(file, version: version) {
            headers[.contentEncoding] = "gzip"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            return try platform.jsonResponse(.notFound, ["error": "no such file: \(path)"])
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The file under the root a URL path names, or nil (missing, or outside the root).
    private func resolve(_ path: String) -> String? {
        let decoded = path.removingPercentEncoding ?? path
        guard !decoded.contains("\0") else { return nil }
        let candidate = URL(fileURLWithPath: root + "/" + decoded).standardizedFileURL.resolvingSymlinksInPath().path
        guard candidate.hasPrefix(root + "/"), FileManager.default.fileExists(atPath: candidate) else { return nil }
        return candidate
    }

    private func compressedBytes(_ file: String, version: String) -> ByteBuffer? {
        if let cached = compressed.withLockedValue({ $0[file] }), cached.version == version { return cached.bytes }
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        var input = ByteBuffer(bytes: data)
        guard let bytes = try? input.compress(with: .gzip()) else { return nil }
        compressed.withLockedValue { $0[file] = (version, bytes) }
        return bytes
    }

    static func accepts(_ header: String?, _ coding: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { part in
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.first?.lowercased() == coding else { return false }
            return !fields.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "") == "q=0" }
        }
    }
}
