import HTTPTypes

/// Which headers are application metadata (what a handler or a peer means to say) and which
/// belong to the protocol or the transport (framing, encodings, hop-by-hop). Only the former
/// cross the API in either direction: copying `Content-Length` from an upstream error into a
/// response that carries another body would frame it wrongly.
public enum ConnectMetadata {
    /// Transport and protocol headers, lower-cased.
    static let reserved: Set<String> = [
        "content-length", "content-type", "content-encoding", "transfer-encoding", "connection", "keep-alive",
        "proxy-connection", "upgrade", "te", "trailer", "date", "server", "accept-encoding", "accept",
        "host", "expect", "vary", "alt-svc",
    ]

    /// Whether `name` may be passed through as application metadata.
    public static func isApplicationHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        if reserved.contains(lower) { return false }
        // The protocols' own headers (Connect-Timeout-Ms, Connect-Accept-Encoding, Grpc-Status …).
        return !lower.hasPrefix("connect-") && !lower.hasPrefix("grpc-") && !lower.hasPrefix(":")
    }

    /// `fields` without transport and protocol headers.
    public static func applicationOnly(_ fields: HTTPFields) -> HTTPFields {
        HTTPFields(fields.filter { isApplicationHeader($0.name.canonicalName) })
    }
}

/// `Accept-Encoding`-style lists (RFC 9110 §12.5.3): `gzip`, `gzip;q=0.5`, `*`; `q=0` refuses.
enum AcceptedEncodings {
    /// Whether `header` accepts `encoding`.
    static func accepts(_ header: String?, _ encoding: String) -> Bool {
        guard let header else { return false }
        // The common case, what Connect clients send: just the name.
        if header.utf8.elementsEqual(encoding.utf8) { return true }
        var wildcard: Bool?
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpacesAndTabs().lowercased() }
            guard let name = parts.first, !name.isEmpty else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if name == encoding { return quality > 0 }
            if name == "*" { wildcard = quality > 0 }
        }
        return wildcard ?? false
    }
}

/// A URL query decoded to bytes: Connect GET carries binary messages percent-encoded, which
/// a String-based decoder would mangle (invalid UTF-8 is replaced, not kept).
enum QueryBytes {
    /// Each `key=value` pair of a raw (still percent-encoded) query; `+` is a space, as in forms.
    static func parse(_ rawQuery: String) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for pair in rawQuery.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(decoding: decode(parts[0]), as: UTF8.self)
            if result[key] == nil { result[key] = parts.count > 1 ? decode(parts[1]) : [] }
        }
        return result
    }

    /// Percent-decodes `input`; a malformed escape is kept as written.
    static func decode<Input: Sequence<UInt8>>(_ input: Input) -> [UInt8] {
        let bytes = Array(input)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace), no Foundation.
    func trimmingSpacesAndTabs() -> SubSequence {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isBlank($0) }), let end = lastIndex(where: { !isBlank($0) }) else { return self[endIndex...] }
        return self[start...end]
    }
}
