#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// swift-log handler writing one JSON object per line to stderr: what log shippers want.
/// Metadata values are strings; nothing here knows secrets, so callers never log them.
///
/// Written by hand, byte by byte, because it runs once per request in every service: no
/// `JSONEncoder`, no date formatter, no dictionary per line (measured: those were ~7–10 % of a
/// service's CPU at info). Keys are sorted, as before, so lines stay diffable and stable.
/// swift-log checks the level before calling `log`, so a disabled line costs nothing here.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: @Sendable ([UInt8]) -> Void

    /// A handler writing to stderr.
    public init(label: String, level: Logger.Level) {
        self.init(label: label, level: level, sink: Self.writeToStandardError)
    }

    /// A handler handing each finished line (newline included) to `sink`.
    init(label: String, level: Logger.Level, sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Adds metadata from the task's context to every line (tracing: `trace_id`, `span_id`).
    public var metadataProvider: Logger.MetadataProvider?

    public func log(event: LogEvent) {
        var eventMetadata = event.metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            eventMetadata = provided.merging(eventMetadata ?? [:]) { $1 }
        }
        sink(Self.line(timestamp: Self.now(), level: event.level, label: label, message: event.message,
                       handlerMetadata: metadata, eventMetadata: eventMetadata))
    }

    /// One JSON line: `ts`, `level`, `logger`, `msg` and the metadata (the event's wins over the
    /// handler's), keys sorted, values as strings, newline-terminated.
    static func line(timestamp: timespec, level: Logger.Level, label: String, message: Logger.Message,
                     handlerMetadata: Logger.Metadata, eventMetadata: Logger.Metadata?) -> [UInt8] {
        var fields: [(key: String, value: String)] = []
        fields.reserveCapacity(3 + handlerMetadata.count + (eventMetadata?.count ?? 0))
        fields.append(("level", level.rawValue))
        fields.append(("logger", label))
        fields.append(("msg", message.description))
        var timestampOverride: String?
        func add(_ key: String, _ value: Logger.Metadata.Value) {
            let key = outputKey(key)
            switch key {
            // Metadata named like one of ours replaces it, as the dictionary merge did.
            case "level": fields[0].value = render(value)
            case "logger": fields[1].value = render(value)
            case "msg": fields[2].value = render(value)
            case "ts": timestampOverride = render(value)
            default: fields.append((key, render(value)))
            }
        }
        for (key, value) in handlerMetadata where eventMetadata?[key] == nil { add(key, value) }
        if let eventMetadata {
            for (key, value) in eventMetadata { add(key, value) }
        }
        fields.sort { $0.key < $1.key }

        var out: [UInt8] = []
        out.reserveCapacity(160 + fields.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count })
        out.append(UInt8(ascii: "{"))
        var first = true
        var wroteTimestamp = false
        for field in fields {
            if !wroteTimestamp, field.key > "ts" {
                appendTimestampField(timestamp, override: timestampOverride, to: &out, first: first)
                first = false
                wroteTimestamp = true
            }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            appendString(field.key, to: &out)
            out.append(UInt8(ascii: ":"))
            appendString(field.value, to: &out)
        }
        if !wroteTimestamp { appendTimestampField(timestamp, override: timestampOverride, to: &out, first: first) }
        out.append(UInt8(ascii: "}"))
        out.append(0x0A)
        return out
    }

    /// Hummingbird tags its request logger `hb.request.id`; one name for it in our lines.
    private static func outputKey(_ key: String) -> String {
        key == "hb.request.id" ? "request_id" : key
    }

    private static func render(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        default: value.description
        }
    }

    private static func appendTimestampField(_ time: timespec, override: String?, to out: inout [UInt8], first: Bool) {
        if !first { out.append(UInt8(ascii: ",")) }
        out.append(contentsOf: #""ts":"#.utf8)
        if let override {
            appendString(override, to: &out)
        } else {
            out.append(UInt8(ascii: "\""))
            appendTimestamp(time, to: &out)
            out.append(UInt8(ascii: "\""))
        }
    }

    /// `2026-11-28T09:14:03.125Z` (UTC, milliseconds), as ISO8601FormatStyle wrote it.
    static func appendTimestamp(_ time: timespec, to out: inout [UInt8]) {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var value = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                value %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
        digits(Int(time.tv_nsec) / 1_000_000, 3); out.append(UInt8(ascii: "Z"))
    }

    /// A JSON string: quotes, backslashes and control characters escaped; `/` and non-ASCII
    /// left as they are (valid UTF-8 is valid JSON).
    static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// One `write` per line (a line is never split between two writers); a short write or an
    /// interrupted one continues, an error drops the line (nowhere left to report it).
    private static let writeToStandardError: @Sendable ([UInt8]) -> Void = { line in
        line.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = write(2, base + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
