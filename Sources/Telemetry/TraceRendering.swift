import Foundation

/// The terminal views of `devctl traces`: a table of recent traces and one trace's waterfall.
public enum TraceRendering {
    /// Attributes worth a glance in the waterfall, in this order (the rest are in `--json`).
    static let keyAttributes = [
        "rpc.system", "rpc.grpc.status_code", "rpc.connect_rpc.error_code", "http.request.method",
        "http.response.status_code", "url.full", "server.address", "db.namespace", "db.query.text",
    ]

    /// One row per trace: when, root, services, spans, duration, status.
    public static func table(_ traces: [TraceSummary], now: Date = Date()) -> String {
        guard !traces.isEmpty else { return "no traces yet (make a request; the services export every few seconds)\n" }
        var rows = [["TRACE", "STARTED", "ROOT", "SERVICES", "SPANS", "DURATION", "STATUS"]]
        for trace in traces {
            rows.append([
                trace.traceID,
                age(ofUnixNano: trace.startUnixNano, now: now),
                trace.root,
                trace.services.joined(separator: ","),
                String(trace.spanCount),
                milliseconds(trace.durationNanos),
                trace.status,
            ])
        }
        return columns(rows)
    }

    /// The trace as a tree: each span indented under its parent, with its service, start offset
    /// from the trace's start, duration, a bar placing it on the trace's timeline, its status and
    /// key attributes. `barWidth` characters span the whole trace.
    public static func waterfall(_ spans: [StoredSpan], barWidth: Int = 30) -> String {
        let summary = TraceStore.summarize(spans)
        let out = "trace \(summary.traceID)  \(summary.root)  \(milliseconds(summary.durationNanos))  \(summary.spanCount) spans  \(summary.status)\n"
        let ids = Set(spans.map(\.spanID))
        var children: [String: [StoredSpan]] = [:]
        var roots: [StoredSpan] = []
        for span in TraceStore.ordered(spans) {
            if span.parentSpanID.isEmpty || !ids.contains(span.parentSpanID) {
                roots.append(span)
            } else {
                children[span.parentSpanID, default: []].append(span)
            }
        }
        let start = summary.startUnixNano
        let total = max(summary.durationNanos, 1)
        var rows: [[String]] = [["SPAN", "SERVICE", "OFFSET", "DURATION", "TIMELINE", "STATUS", "ATTRIBUTES"]]
        func visit(_ span: StoredSpan, depth: Int) {
            let offset = span.startUnixNano >= start ? span.startUnixNano - start : 0
            rows.append([
                String(repeating: "  ", count: depth) + span.name,
                span.service,
                milliseconds(offset),
                milliseconds(span.durationNanos),
                bar(offset: offset, duration: span.durationNanos, total: total, width: barWidth),
                span.status == "error" ? (span.statusMessage.isEmpty ? "error" : "error: \(span.statusMessage.prefix(60))") : span.status,
                keyAttributes.compactMap { key in span.attributes[key].map { "\(key)=\($0.count > 60 ? $0.prefix(60) + "…" : Substring($0))" } }.joined(separator: " "),
            ])
            for child in children[span.spanID] ?? [] { visit(child, depth: depth + 1) }
        }
        for root in roots { visit(root, depth: 0) }
        return out + columns(rows)
    }

    /// `|   ████      |`: where the span sits in the trace, at least one block wide.
    static func bar(offset: UInt64, duration: UInt64, total: UInt64, width: Int) -> String {
        let from = min(width - 1, Int(Double(offset) / Double(total) * Double(width)))
        let length = max(1, min(width - from, Int((Double(duration) / Double(total) * Double(width)).rounded())))
        return "|" + String(repeating: " ", count: from) + String(repeating: "█", count: length) + String(repeating: " ", count: width - from - length) + "|"
    }

    /// `12.34 ms` (or `1.234 s` from a second up).
    public static func milliseconds(_ nanos: UInt64) -> String {
        if nanos >= 1_000_000_000 { return String(format: "%.3f s", Double(nanos) / 1e9) }
        return String(format: "%.2f ms", Double(nanos) / 1e6)
    }

    static func age(ofUnixNano instant: UInt64, now: Date) -> String {
        let seconds = max(0, Int(now.timeIntervalSince1970 - Double(instant) / 1e9))
        switch seconds {
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        default: return "\(seconds / 3600)h ago"
        }
    }

    /// Left-aligned columns, two spaces apart, no trailing spaces.
    static func columns(_ rows: [[String]]) -> String {
        guard let width = rows.first?.count else { return "" }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var out = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                line += index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}
