import NIOHTTP1
import Tracing

/// A request in a trace its `traceparent` marks as not sampled (the edge's sampling budget was
/// spent, or the client decided so). Nobody records spans for it, so the services make none:
/// the server, client and database span helpers see this in the task's ``ServiceContext`` and
/// only pass the `traceparent` on unchanged to the stack's own services (what W3C Trace Context
/// asks of a participant that does not record), and log lines still carry its trace id. Making
/// the SDK's non-recording spans instead cost a sampled span's bookkeeping without its use (a
/// fifth of a service's CPU per request under load, measured with bench/tracing.sh).
public struct UnsampledTrace: Sendable, Equatable {
    /// The header as received, forwarded as it is.
    public let traceparent: String
    /// The vendor state that came with it, forwarded as it is.
    public let tracestate: String?

    /// `nil` unless `traceparent` is a valid version-00 header (32 and 16 lowercase hex digits,
    /// neither all zeros) whose sampled flag is clear.
    public init?(traceparent: String, tracestate: String? = nil) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count == 55, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "0"),
              bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else { return nil }
        func isHex(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
        let traceID = bytes[3..<35], spanID = bytes[36..<52], flags = bytes[53..<55]
        guard traceID.allSatisfy(isHex), spanID.allSatisfy(isHex), flags.allSatisfy(isHex),
              traceID.contains(where: { $0 != UInt8(ascii: "0") }), spanID.contains(where: { $0 != UInt8(ascii: "0") }) else { return nil }
        // The sampled flag is the low bit of the flags' last hex digit: set for the odd digits.
        guard !"13579bdf".utf8.contains(bytes[54]) else { return nil }
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// The trace's id (32 hex digits), for log lines.
    public var traceID: Substring {
        let start = traceparent.utf8.index(traceparent.startIndex, offsetBy: 3)
        return traceparent[start..<traceparent.utf8.index(start, offsetBy: 32)]
    }

    /// The caller's span id (16 hex digits): the span this request's work belongs under.
    public var parentSpanID: Substring {
        let start = traceparent.utf8.index(traceparent.startIndex, offsetBy: 36)
        return traceparent[start..<traceparent.utf8.index(start, offsetBy: 16)]
    }

    /// The unsampled trace the current task works for, if any.
    public static var current: UnsampledTrace? { ServiceContext.current?.unsampledTrace }

    /// `headers` with the trace headers added, for a call to one of the stack's services.
    public func injected(into headers: HTTPHeaders) -> HTTPHeaders {
        var headers = headers
        headers.replaceOrAdd(name: "traceparent", value: traceparent)
        if let tracestate { headers.replaceOrAdd(name: "tracestate", value: tracestate) }
        return headers
    }
}

private enum UnsampledTraceKey: ServiceContextKey {
    typealias Value = UnsampledTrace
}

extension ServiceContext {
    /// Set by the server middleware for a request whose trace is not sampled.
    public var unsampledTrace: UnsampledTrace? {
        get { self[UnsampledTraceKey.self] }
        set { self[UnsampledTraceKey.self] = newValue }
    }
}
