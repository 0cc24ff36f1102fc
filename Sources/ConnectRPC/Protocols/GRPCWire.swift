import Foundation

/// How gRPC and gRPC-Web spell what Connect spells differently (PROTOCOL-HTTP2.md and
/// PROTOCOL-WEB.md in grpc/grpc): numeric status codes, `grpc-timeout`, the percent-encoded
/// `grpc-message`, and `grpc-status-details-bin` (a base64 `google.rpc.Status`).
public enum GRPCWire {
    /// gRPC's number for a code (the same 16 codes, in gRPC's order).
    public static func status(of code: ConnectCode) -> Int {
        switch code {
        case .canceled: 1
        case .unknown: 2
        case .invalidArgument: 3
        case .deadlineExceeded: 4
        case .notFound: 5
        case .alreadyExists: 6
        case .permissionDenied: 7
        case .resourceExhausted: 8
        case .failedPrecondition: 9
        case .aborted: 10
        case .outOfRange: 11
        case .unimplemented: 12
        case .internal: 13
        case .unavailable: 14
        case .dataLoss: 15
        case .unauthenticated: 16
        }
    }

    /// The code for gRPC's number; `nil` for 0 (OK). Unknown numbers are `unknown`.
    public static func code(ofStatus status: Int) -> ConnectCode? {
        guard status != 0 else { return nil }
        return ConnectCode.allCases.first { Self.status(of: $0) == status } ?? .unknown
    }

    /// `grpc-timeout`: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n).
    public static func parseTimeout(_ header: String) -> Duration? {
        let bytes = Array(header.utf8)
        guard (2...9).contains(bytes.count), let unit = bytes.last,
              bytes.dropLast().allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let value = Int64(String(decoding: bytes.dropLast(), as: UTF8.self)) else { return nil }
        switch unit {
        case UInt8(ascii: "H"): return .seconds(value * 3600)
        case UInt8(ascii: "M"): return .seconds(value * 60)
        case UInt8(ascii: "S"): return .seconds(value)
        case UInt8(ascii: "m"): return .milliseconds(value)
        case UInt8(ascii: "u"): return .microseconds(value)
        case UInt8(ascii: "n"): return .nanoseconds(value)
        default: return nil
        }
    }

    /// A `grpc-timeout` value for `duration`, in the finest unit that fits 8 digits.
    public static func timeoutHeader(_ duration: Duration) -> String {
        let nanoseconds = max(1, duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        for (unit, scale) in [("n", Int64(1)), ("u", 1_000), ("m", 1_000_000), ("S", 1_000_000_000), ("M", 60_000_000_000), ("H", 3_600_000_000_000)] {
            // Rounded up: a deadline must never shrink on the wire.
            let value = (nanoseconds + scale - 1) / scale
            if value < 100_000_000 { return "\(value)\(unit)" }
        }
        return "99999999H"
    }

    /// `grpc-message`: UTF-8, with bytes outside printable ASCII and `%` percent-encoded.
    public static func percentEncode(_ message: String) -> String {
        var out = ""
        out.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Decodes `grpc-message`; a malformed escape is kept as written (the spec says so).
    public static func percentDecode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let value = UInt8(String(decoding: bytes[index + 1...index + 2], as: UTF8.self), radix: 16) {
                out.append(value)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `grpc-status-details-bin` for an error: `google.rpc.Status` (code, message, details as
    /// `Any`), base64 without padding.
    public static func statusDetails(_ error: ConnectError) -> String {
        var status = ProtobufWriter()
        status.varintField(1, UInt64(Self.status(of: error.code)))
        if !error.message.isEmpty { status.bytesField(2, Array(error.message.utf8)) }
        for detail in error.details {
            var any = ProtobufWriter()
            let typeURL = detail.type.contains("/") ? detail.type : "type.googleapis.com/" + detail.type
            any.bytesField(1, Array(typeURL.utf8))
            any.bytesField(2, Array(Data(base64URLOrStandard: detail.value) ?? Data()))
            status.bytesField(3, any.bytes)
        }
        return Data(status.bytes).base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))
    }

    /// The details of a `grpc-status-details-bin` value (what a client needs; code and message
    /// come from `grpc-status` and `grpc-message`).
    public static func details(fromStatusDetails value: String) -> [ConnectError.Detail] {
        guard let data = Data(base64URLOrStandard: value) else { return [] }
        var reader = ProtobufReader(Array(data))
        var details: [ConnectError.Detail] = []
        while let (field, payload) = reader.nextLengthDelimited() {
            guard field == 3 else { continue }
            var any = ProtobufReader(payload)
            var type = ""
            var value: [UInt8] = []
            while let (anyField, anyPayload) = any.nextLengthDelimited() {
                if anyField == 1 { type = String(decoding: anyPayload, as: UTF8.self) }
                if anyField == 2 { value = anyPayload }
            }
            if let slash = type.lastIndex(of: "/") { type = String(type[type.index(after: slash)...]) }
            details.append(.init(type: type, value: Data(value).base64EncodedString().trimmingCharacters(in: CharacterSet(charactersIn: "="))))
        }
        return details
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Data {
    /// Base64 in either alphabet, padding optional (gRPC's `-bin` headers and Connect details
    /// are unpadded).
    init?(base64URLOrStandard text: String) {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        self.init(base64Encoded: standard)
    }
}

/// Just enough protobuf encoding for `google.rpc.Status` (not in SwiftProtobuf's well-known types).
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func varintField(_ number: Int, _ value: UInt64) {
        varint(UInt64(number << 3))
        varint(value)
    }

    mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        varint(UInt64(number << 3 | 2))
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
}

/// Reads the length-delimited fields of a message, skipping the others.
struct ProtobufReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
        return nil
    }

    mutating func nextLengthDelimited() -> (Int, [UInt8])? {
        while index < bytes.count {
            guard let key = varint() else { return nil }
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1: index += 8
            case 5: index += 4
            case 2:
                guard let length = varint(), index + Int(length) <= bytes.count else { return nil }
                let payload = Array(bytes[index..<index + Int(length)])
                index += Int(length)
                return (field, payload)
            default: return nil
            }
        }
        return nil
    }
}
