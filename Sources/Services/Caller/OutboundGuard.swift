import ConnectRPC
import Foundation
import Logging
import NIOConcurrencyHelpers
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
    /// Name resolution (blocking getaddrinfo); tests substitute their own.
    let resolve: @Sendable (String) throws -> [IPAddress]
    let logger: Logger?
    /// Answers that needed no lookup (allow-listed hosts, public IP literals) by URL text: the
    /// same text always gets the same answer, so it is parsed and checked once, not per call.
    private let settled = SettledTargets()

    init(allowList: String, logger: Logger? = nil, resolve: @escaping @Sendable (String) throws -> [IPAddress] = { try IPAddress.resolve($0) }) {
        allowedHosts = Set(allowList.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty })
        self.resolve = resolve
        self.logger = logger
    }

    /// getaddrinfo blocks and cannot be cancelled, so it runs on threads of its own (never the
    /// shared pool other work needs), at most `maxLookupsInFlight` at a time: a flood of slow
    /// names is answered unavailable at once instead of piling up threads or starving others.
    static let resolverPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()
    static let maxLookupsInFlight = 64
    private static let lookupsInFlight = NIOLockedValueBox(0)

    /// Where to connect for a checked URL.
    struct Target: Sendable {
        /// The URL as given: its host name stays, for `Host`, SNI and certificate checks.
        var url: String
        /// The host name of the URL (without brackets).
        var host: String
        /// The checked address to connect to instead of resolving `host` again (no DNS
        /// rebinding between the check and the connection), for http and https alike; `nil`
        /// for allow-listed hosts, which are trusted as configured.
        var pinnedAddress: String?
        /// `http` or `https`.
        var scheme: String
        /// The port to connect to (the scheme's default when the URL has none).
        var port: Int
        /// The `Host` header: the URL's host, bracketed when IPv6, with its port when given.
        var authority: String
        /// The origin-form request target: the URL's path (at least `/`) and query, as encoded.
        var requestTarget: String
        /// Listed in `CALLER_ALLOWED_HOSTS`: one of the stack's own services, which may be sent
        /// the trace context (`traceparent`); other hosts never are.
        var isAllowListed = false
    }

    /// The URL, parsed and checked before `deadline`: invalid_argument for what is not an
    /// absolute http(s) URL, permission_denied for a refused address (without saying which
    /// address: that would map the internal network for the caller; the log has it),
    /// unavailable when the name does not resolve, deadline_exceeded when resolving takes longer
    /// than the call may.
    func check(_ text: String, before deadline: ContinuousClock.Instant) async throws -> Target {
        if let target = settled[text] { return target }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw ConnectError(.invalidArgument, "url must be an absolute http or https URL, got \"\(Self.redacted(text))\"")
        }
        guard let host = url.host, !host.isEmpty else {
            throw ConnectError(.invalidArgument, "url has no host: \"\(Self.redacted(text))\"")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        let hostKey = host.lowercased()
        let bracketed = hostKey.contains(":") ? "[\(hostKey)]" : hostKey
        let bracketedHost = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let authority = url.port.map { "\(bracketedHost):\($0)" } ?? bracketedHost
        let path = url.path(percentEncoded: true)
        let requestTarget = (path.isEmpty ? "/" : path) + (url.query(percentEncoded: true).map { "?\($0)" } ?? "")
        func target(pinning address: String?, allowListed: Bool = false) -> Target {
            Target(url: url.absoluteString, host: host, pinnedAddress: address, scheme: scheme, port: port,
                   authority: authority, requestTarget: requestTarget, isAllowListed: allowListed)
        }
        if allowedHosts.contains("\(bracketed):\(port)") || allowedHosts.contains(bracketed) || allowedHosts.contains("\(hostKey):\(port)") {
            return settled.keep(target(pinning: nil, allowListed: true), for: text)
        }
        // An IP literal is its own answer: checked the same way, without a lookup (and without
        // pinning: a literal cannot be re-resolved elsewhere between check and connection).
        let literal = IPAddress.literal(hostKey.hasPrefix("[") ? String(hostKey.dropFirst().dropLast()) : hostKey)
        let addresses = if let literal { [literal] } else { try await lookUp(host, before: deadline) }
        for address in addresses {
            if let range = address.nonPublicRange {
                logger?.notice("outbound call refused", metadata: ["host": "\(bracketed):\(port)", "address": "\(address)", "range": "\(range)"])
                throw ConnectError(.permissionDenied, "refusing to call \(bracketed):\(port): it resolves to a non-public address. To allow it, add \(bracketed):\(port) to CALLER_ALLOWED_HOSTS")
            }
        }
        guard let first = addresses.first else { throw ConnectError(.unavailable, "\(host) resolved to no address") }
        // A name's answer can change (DNS), so only a literal's is kept.
        if literal != nil { return settled.keep(target(pinning: nil), for: text) }
        return target(pinning: first.description)
    }

    private func lookUp(_ host: String, before deadline: ContinuousClock.Instant) async throws -> [IPAddress] {
        let admitted = Self.lookupsInFlight.withLockedValue { count -> Bool in
            guard count < Self.maxLookupsInFlight else { return false }
            count += 1
            return true
        }
        guard admitted else { throw ConnectError(.unavailable, "too many name lookups in flight; try again shortly") }
        let release: @Sendable () -> Void = { Self.lookupsInFlight.withLockedValue { $0 -= 1 } }
        let resolve = self.resolve
        do {
            // The lookup's thread is released when getaddrinfo returns, whatever the caller does.
            let addresses = try await withDeadline(deadline, {
                defer { release() }
                return try await Self.resolverPool.runIfActive { try resolve(host) }
            }, onTimeout: { ConnectError(.deadlineExceeded, "resolving \(host) took longer than the call's deadline") })
            return addresses
        } catch let error as IPAddress.ResolutionError {
            throw ConnectError(.unavailable, "cannot resolve \(error.host): \(error.reason)")
        }
    }

    /// The URL without its user-info (a password in a URL is a secret; never log or store it).
    static func redacted(_ text: String) -> String {
        // Without an `@` there is no user-info to remove: no URL parsing on the common path.
        guard text.utf8.contains(UInt8(ascii: "@")) else { return text }
        guard var components = URLComponents(string: text), components.user != nil || components.password != nil else { return text }
        components.user = nil
        components.password = nil
        return components.string ?? "<url>"
    }
}

/// ``OutboundGuard``'s answers that depend only on the URL text, bounded (cleared when full:
/// a client cycling through many URLs pays the parse again, nothing more).
private final class SettledTargets: Sendable {
    private static let capacity = 256
    private let targets = NIOLockedValueBox<[String: OutboundGuard.Target]>([:])

    subscript(text: String) -> OutboundGuard.Target? {
        targets.withLockedValue { $0[text] }
    }

    func keep(_ target: OutboundGuard.Target, for text: String) -> OutboundGuard.Target {
        targets.withLockedValue { targets in
            if targets.count >= Self.capacity { targets.removeAll(keepingCapacity: true) }
            targets[text] = target
        }
        return target
    }
}
