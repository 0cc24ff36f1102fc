import Foundation

/// One finished span as devctl keeps it: ids in lower-case hex, times in Unix nanoseconds, the
/// attributes as text.
public struct StoredSpan: Codable, Sendable, Equatable {
    public var traceID: String
    public var spanID: String
    /// Empty for a root span.
    public var parentSpanID: String
    public var name: String
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    public var kind: String
    /// The resource's `service.name`.
    public var service: String
    public var startUnixNano: UInt64
    public var endUnixNano: UInt64
    /// `unset`, `ok` or `error`.
    public var status: String
    public var statusMessage: String
    public var attributes: [String: String]

    public init(traceID: String, spanID: String, parentSpanID: String, name: String, kind: String, service: String,
                startUnixNano: UInt64, endUnixNano: UInt64, status: String, statusMessage: String = "", attributes: [String: String] = [:]) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.service = service
        self.startUnixNano = startUnixNano
        self.endUnixNano = endUnixNano
        self.status = status
        self.statusMessage = statusMessage
        self.attributes = attributes
    }

    /// How long the span took, in nanoseconds (0 for a malformed end before start).
    public var durationNanos: UInt64 { endUnixNano >= startUnixNano ? endUnixNano - startUnixNano : 0 }
}

/// One line of `devctl traces`: a trace's root, outcome, extent and the services it crossed.
public struct TraceSummary: Codable, Sendable, Equatable {
    public var traceID: String
    /// The root span's name (the route or RPC that started the trace).
    public var root: String
    /// The service of the root span.
    public var rootService: String
    /// `error` when any span failed, else `ok`.
    public var status: String
    public var startUnixNano: UInt64
    public var durationNanos: UInt64
    public var spanCount: Int
    public var services: [String]
}

/// What `devctl traces` may filter on.
public struct TraceFilter: Sendable, Equatable {
    /// Only traces with a span from this service.
    public var service: String?
    /// Only traces at least this long.
    public var minimumDurationNanos: UInt64?
    /// Only traces with a failed span.
    public var errorsOnly = false
    /// Only traces that started at or after this instant (Unix nanoseconds).
    public var sinceUnixNano: UInt64?
    /// At most this many, newest first.
    public var limit = 50

    public init(service: String? = nil, minimumDurationNanos: UInt64? = nil, errorsOnly: Bool = false, sinceUnixNano: UInt64? = nil, limit: Int = 50) {
        self.service = service
        self.minimumDurationNanos = minimumDurationNanos
        self.errorsOnly = errorsOnly
        self.sinceUnixNano = sinceUnixNano
        self.limit = limit
    }
}

/// The last ``maxTraces`` traces devctl's receiver was sent, in memory and bounded: beyond that
/// the trace that arrived first is forgotten, a trace keeps at most ``maxSpansPerTrace`` spans,
/// and each span at most ``maxAttributes`` attributes of ``maxAttributeLength`` characters. So a
/// flood of spans costs a fixed amount of memory, whatever the services send.
public actor TraceStore {
    public let maxTraces: Int
    public let maxSpansPerTrace: Int
    public static let maxAttributes = 64
    public static let maxAttributeLength = 1024

    private var traces: [String: [StoredSpan]] = [:]
    /// Trace ids by first arrival, oldest first (a ring: `head` is the oldest).
    private var arrival: [String] = []
    private var head = 0
    /// Spans refused because their trace was full (reported by the receiver's API).
    public private(set) var droppedSpans = 0

    public init(maxTraces: Int = 1000, maxSpansPerTrace: Int = 2000) {
        self.maxTraces = max(1, maxTraces)
        self.maxSpansPerTrace = max(1, maxSpansPerTrace)
    }

    /// How many traces are held.
    public var count: Int { traces.count }

    /// Adds spans (any traces, any order); the oldest traces leave when there are too many.
    /// A span that is not kept (a repeat, or its trace is full) costs only that check.
    public func add(_ spans: [StoredSpan]) {
        for span in spans {
            if let held = traces[span.traceID]?.count {
                // An exporter that retries a batch sends its spans again: keep each once.
                if traces[span.traceID]?.contains(where: { $0.spanID == span.spanID }) == true { continue }
                guard held < maxSpansPerTrace else {
                    droppedSpans += 1
                    continue
                }
                // In place: no copy of the trace's spans per span.
                traces[span.traceID]?.append(Self.bounded(span))
            } else {
                traces[span.traceID] = [Self.bounded(span)]
                remember(span.traceID)
            }
        }
    }

    /// `span` with at most ``maxAttributes`` attributes (the first by name) and its name and
    /// values cut to ``maxAttributeLength`` characters.
    static func bounded(_ span: StoredSpan) -> StoredSpan {
        var span = span
        if span.attributes.count > maxAttributes {
            let kept = span.attributes.keys.sorted().prefix(maxAttributes)
            var attributes: [String: String] = [:]
            attributes.reserveCapacity(maxAttributes)
            for key in kept { attributes[key] = span.attributes[key] }
            span.attributes = attributes
        }
        for (key, value) in span.attributes where isLong(value) {
            span.attributes[key] = String(value.prefix(maxAttributeLength)) + "…"
        }
        if isLong(span.name) { span.name = String(span.name.prefix(maxAttributeLength)) + "…" }
        return span
    }

    /// Longer than ``maxAttributeLength`` characters; the UTF-8 length (constant time) settles
    /// most cases without counting characters.
    private static func isLong(_ text: String) -> Bool {
        text.utf8.count > maxAttributeLength && text.count > maxAttributeLength
    }

    private func remember(_ traceID: String) {
        if arrival.count < maxTraces {
            arrival.append(traceID)
            return
        }
        // Full: the oldest trace makes room (its slot in the ring takes the new id).
        traces[arrival[head]] = nil
        arrival[head] = traceID
        head = (head + 1) % maxTraces
    }

    /// Summaries matching `filter`, newest (by start) first.
    public func summaries(_ filter: TraceFilter = .init()) -> [TraceSummary] {
        var result: [TraceSummary] = []
        for spans in traces.values {
            let summary = Self.summarize(spans)
            if let service = filter.service, !summary.services.contains(service) { continue }
            if let minimum = filter.minimumDurationNanos, summary.durationNanos < minimum { continue }
            if filter.errorsOnly, summary.status != "error" { continue }
            if let since = filter.sinceUnixNano, summary.startUnixNano < since { continue }
            result.append(summary)
        }
        result.sort { ($0.startUnixNano, $0.traceID) > ($1.startUnixNano, $1.traceID) }
        return Array(result.prefix(max(0, filter.limit)))
    }

    /// A trace by id, or by a unique prefix of at least 8 hex digits (as a log line or the
    /// edge's `X-Request-Id` show it; a whole `traceparent` works too).
    public func trace(_ query: String) throws(TraceLookupError) -> [StoredSpan] {
        let id = Self.traceID(in: query)
        guard id.count >= 8, id.allSatisfy(\.isHexDigit) else { throw .malformed(query) }
        if let spans = traces[id] { return Self.ordered(spans) }
        let matches = traces.keys.filter { $0.hasPrefix(id) }
        switch matches.count {
        case 0: throw .notFound(id)
        case 1: return Self.ordered(traces[matches[0]] ?? [])
        default: throw .ambiguous(id, matches.count)
        }
    }

    /// ``trace(_:)`` as a result (typed throws do not cross the actor hop cleanly).
    public func lookup(_ query: String) -> Result<[StoredSpan], TraceLookupError> {
        Result { () throws(TraceLookupError) in try trace(query) }
    }

    /// The trace id in what a user pasted: a bare id, `00-<trace>-<span>-01`, any case.
    static func traceID(in text: String) -> String {
        let lowered = text.lowercased().trimmingWhitespace
        let parts = lowered.split(separator: "-")
        if parts.count == 4, parts[1].count == 32 { return String(parts[1]) }
        return lowered
    }

    /// Parents before children, siblings by start time.
    static func ordered(_ spans: [StoredSpan]) -> [StoredSpan] {
        spans.sorted { ($0.startUnixNano, $0.spanID) < ($1.startUnixNano, $1.spanID) }
    }

    static func summarize(_ spans: [StoredSpan]) -> TraceSummary {
        let ids = Set(spans.map(\.spanID))
        let roots = spans.filter { $0.parentSpanID.isEmpty || !ids.contains($0.parentSpanID) }
        let root = (roots.isEmpty ? spans : roots).min { $0.startUnixNano < $1.startUnixNano }
        let start = spans.map(\.startUnixNano).min() ?? 0
        let end = spans.map(\.endUnixNano).max() ?? start
        var services: [String] = []
        for span in ordered(spans) where !services.contains(span.service) { services.append(span.service) }
        return TraceSummary(
            traceID: root?.traceID ?? "",
            root: root?.name ?? "",
            rootService: root?.service ?? "",
            status: spans.contains { $0.status == "error" } ? "error" : "ok",
            startUnixNano: start,
            durationNanos: end >= start ? end - start : 0,
            spanCount: spans.count,
            services: services
        )
    }
}

/// Why a trace id found no trace.
public enum TraceLookupError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case notFound(String)
    case ambiguous(String, Int)

    public var description: String {
        switch self {
        case .malformed(let text): "\"\(text)\" is not a trace id (32 hex digits, or a unique prefix of at least 8)"
        case .notFound(let id): "no trace \(id) among the traces devctl holds (it keeps the most recent ones, and past traces.sample_per_second new traces a second the edge marks requests not sampled: they keep their id in logs but record no spans; see `devctl traces`)"
        case .ambiguous(let id, let count): "\(count) traces start with \(id): give more digits"
        }
    }
}
