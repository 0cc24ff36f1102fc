#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A resolved IPv4 or IPv6 address, and which special-purpose range (if any) it is in.
struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    let bytes: [UInt8]

    var isIPv6: Bool { bytes.count == 16 }

    var description: String {
        let family = isIPv6 ? AF_INET6 : AF_INET
        let text = bytes.withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { buffer -> String? in
                guard let base = buffer.baseAddress, inet_ntop(family, raw.baseAddress, base, socklen_t(buffer.count)) != nil else { return nil }
                return String(cString: base)
            }
        }
        return text ?? bytes.map(String.init).joined(separator: ".")
    }

    /// How the URL's host is written to connect to exactly this address.
    var urlHost: String { isIPv6 ? "[\(description)]" : description }

    /// Why a server must not call this address on a client's behalf (SSRF), or `nil` when it
    /// is a public unicast address. IPv6 forms that embed an IPv4 address (mapped, compatible,
    /// NAT64, 6to4) are judged by the embedded address.
    var nonPublicRange: String? {
        isIPv6 ? Self.classifyV6(bytes) : Self.classifyV4(bytes)
    }

    private static func classifyV4(_ b: [UInt8]) -> String? {
        switch (b[0], b[1]) {
        case (0, _): return "\"this network\" (0.0.0.0/8)"
        case (10, _): return "private (10.0.0.0/8)"
        case (100, 64...127): return "shared address space (100.64.0.0/10)"
        case (127, _): return "loopback (127.0.0.0/8)"
        case (169, 254): return "link-local / cloud metadata (169.254.0.0/16)"
        case (172, 16...31): return "private (172.16.0.0/12)"
        case (192, 168): return "private (192.168.0.0/16)"
        case (192, 0) where b[2] == 0: return "IETF protocol assignments (192.0.0.0/24)"
        case (198, 18...19): return "benchmarking (198.18.0.0/15)"
        case (224...239, _): return "multicast (224.0.0.0/4)"
        case (240...255, _): return "reserved (240.0.0.0/4)"
        default: return nil
        }
    }

    private static func classifyV6(_ b: [UInt8]) -> String? {
        let embeddedV4 = Array(b[12..<16])
        if b[0..<15].allSatisfy({ $0 == 0 }) {
            return b[15] == 1 ? "loopback (::1)" : (b[15] == 0 ? "unspecified (::)" : "IPv4-compatible (::/96)")
        }
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff {
            return classifyV4(embeddedV4).map { "IPv4-mapped \($0)" }
        }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return "IPv4-compatible (::/96)" }
        if b[0] == 0x00, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b, b[4..<12].allSatisfy({ $0 == 0 }) {
            return classifyV4(embeddedV4).map { "NAT64 \($0)" }
        }
        if b[0] == 0x20, b[1] == 0x02 { return classifyV4(Array(b[2..<6])).map { "6to4 \($0)" } }
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return "link-local (fe80::/10)" }
        if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return "site-local (fec0::/10)" }
        if b[0] & 0xfe == 0xfc { return "unique local (fc00::/7)" }
        if b[0] == 0xff { return "multicast (ff00::/8)" }
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return "documentation (2001:db8::/32)" }
        return nil
    }

    /// Every address `host` resolves to (getaddrinfo: names, dotted, decimal `2130706433`,
    /// hex and IPv6 literals alike). Blocking: call it off the event loops.
    /// The address a host written as a plain IP literal names (`203.0.113.7`, `2001:db8::1`),
    /// parsed without a lookup; `nil` for names and for numeric spellings only getaddrinfo
    /// reads (`2130706433`, `0x7f.1`), which go through ``resolve(_:)`` and its checks.
    static func literal(_ host: String) -> IPAddress? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return IPAddress(bytes: withUnsafeBytes(of: &v4) { Array($0) }) }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return IPAddress(bytes: withUnsafeBytes(of: &v6) { Array($0) }) }
        return nil
    }

    static func resolve(_ host: String) throws(ResolutionError) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let first = list else {
            throw ResolutionError(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                switch Int32(address.pointee.sa_family) {
                case AF_INET:
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                        var raw = v4.pointee.sin_addr
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                    }
                case AF_INET6:
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                        var raw = v6.pointee.sin6_addr
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }))
                    }
                default:
                    break
                }
            }
            entry = current.pointee.ai_next
        }
        var seen = Set<IPAddress>()
        return addresses.filter { seen.insert($0).inserted }
    }

    struct ResolutionError: Error {
        var host: String
        var reason: String
    }
}
