import ConnectRPC
import Foundation
import NIOPosix

/// caller's SSRF guard: which URLs it may fetch on a client's behalf.
///
/// A URL must be absolute http(s). Its host is resolved first and **every** address it resolves
/// to must be public: loopback, link-local (169.254/16, the cloud metadata address), private,
/// shared, multicast and reserved ranges and their IPv6 equivalents are refused, unless
/// `host:port` (or `host`, for every port) is in the allow list. Checking after resolution is
/// what stops names pointing inwards and numeric spellings such as `2130706433`.
struct OutboundGuard: Sendable {
    /// Lower-cased `host:port` or `host` entries from `CALLER_ALLOWED_HOSTS`.
    let allowedHosts: Set<String>

    init(allowList: String) {
        allowedHosts = Set(allowList.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
    }

    /// Where to connect for a checked URL.
    struct Target: Sendable {
        /// The URL to request: for plain http to a guarded host, its host is the checked IP,
        /// so a second DNS answer (rebinding) cannot redirect the connection inwards.
        var requestURL: String
        /// `Host` header to send when the request URL was pinned to an IP.
        var hostHeader: String?
    }

    /// The URL, parsed and checked: invalid_argument for what is not an absolute http(s) URL,
    /// permission_denied for a refused address, unavailable when the name does not resolve.
    func check(_ text: String) async throws -> Target {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw ConnectError(.invalidArgument, "url must be an absolute http or https URL, got \"\(Self.redacted(text))\"")
        }
        guard let host = url.host, !host.isEmpty else {
            throw ConnectError(.invalidArgument, "url has no host: \"\(Self.redacted(text))\"")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let hostKey = host.lowercased()
        let bracketed = hostKey.contains(":") ? "[\(hostKey)]" : hostKey
        if allowedHosts.contains("\(bracketed):\(port)") || allowedHosts.contains(bracketed) || allowedHosts.contains("\(hostKey):\(port)") {
            return Target(requestURL: url.absoluteString, hostHeader: nil)
        }
        let addresses: [IPAddress]
        do {
            addresses = try await NIOThreadPool.singleton.runIfActive { try IPAddress.resolve(host) }
        } catch let error as IPAddress.ResolutionError {
            throw ConnectError(.unavailable, "cannot resolve \(error.host): \(error.reason)")
        }
        for address in addresses {
            if let range = address.nonPublicRange {
                throw ConnectError(.permissionDenied, "refusing to call \(bracketed):\(port): it resolves to \(address), \(range). To allow it, add \(bracketed):\(port) to CALLER_ALLOWED_HOSTS")
            }
        }
        guard let first = addresses.first else { throw ConnectError(.unavailable, "\(host) resolved to no address") }
        guard scheme == "http", var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
            // https keeps the name: certificate checks and SNI need it (a rebinding window remains).
            return Target(requestURL: url.absoluteString, hostHeader: nil)
        }
        components.percentEncodedHost = first.urlHost
        let hostHeader = url.port.map { "\(Self.hostForHeader(host)):\($0)" } ?? Self.hostForHeader(host)
        return Target(requestURL: components.string ?? url.absoluteString, hostHeader: hostHeader)
    }

    private static func hostForHeader(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// The URL without its user-info (a password in a URL is a secret; never log or store it).
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.user != nil || components.password != nil else { return text }
        components.user = nil
        components.password = nil
        return components.string ?? "<url>"
    }
}
