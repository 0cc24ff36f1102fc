#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import NIOCore
import Stack

/// `GET /api/v1/state`: the stack as `status --json` has it, and where the event stream is.
struct StateView: Encodable {
    var stack: StackState
    /// The id of the newest event: follow `/api/v1/events?after=EPOCH-ID` with this.
    var newestEvent: Int
    /// This run of the supervisor's event ids.
    var epoch: String
    var now: Date
}

/// One event as the API shows it (`kind` `log` with `source` and `line`, or `state`).
struct EventView: Encodable {
    var id: Int
    var time: Date
    var kind: String
    var source: String?
    var line: String?
    var state: StackState?

    init(_ event: StackEvent) {
        id = event.id
        time = event.time
        switch event.payload {
        case .log(let source, let line):
            kind = "log"
            self.source = source
            self.line = line
        case .state(let state):
            kind = "state"
            self.state = state
        }
    }
}

/// `GET /api/v1/events` without `Accept: text/event-stream`.
struct EventList: Encodable {
    var events: [EventView]
    /// Events between the id asked for and the first one here were dropped (or the id is from
    /// another run of the stack): start again from `/api/v1/state` and `/api/v1/logs`.
    var gap: Bool
    var newest: Int
    var epoch: String
}

/// `GET /api/v1/logs`: the newest lines held (all processes, or `source`'s), oldest first.
struct LogList: Encodable {
    var lines: [EventView]
    var newest: Int
    var epoch: String
}

enum DashboardJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            var text = ""
            appendTimestamp(date, to: &text)
            try container.encode(text)
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// A log event as ``EventView`` encodes it (same keys, sorted), without an encoder.
    static func appendLog(id: Int, time: Date, source: String, line: String, to text: inout String) {
        text += "{\"id\":\(id),\"kind\":\"log\",\"line\":"
        appendString(line, to: &text)
        text += ",\"source\":"
        appendString(source, to: &text)
        text += ",\"time\":\""
        appendTimestamp(time, to: &text)
        text += "\"}"
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ value: String, to text: inout String) {
        text += "\""
        var plainStart = value.unicodeScalars.startIndex
        var index = plainStart
        let scalars = value.unicodeScalars
        while index != scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\"" || scalar == "\\" || scalar.value < 0x20 {
                text.unicodeScalars.append(contentsOf: scalars[plainStart..<index])
                switch scalar {
                case "\"": text += "\\\""
                case "\\": text += "\\\\"
                case "\n": text += "\\n"
                case "\r": text += "\\r"
                case "\t": text += "\\t"
                default:
                    let hex = String(scalar.value, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
                plainStart = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        text.unicodeScalars.append(contentsOf: scalars[plainStart..<scalars.endIndex])
        text += "\""
    }

    /// `2026-11-28T22:14:46.497Z` (UTC, milliseconds), as the encoder writes dates.
    static func appendTimestamp(_ date: Date, to text: inout String) {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = Int(milliseconds % 1000)
        text += "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))."
        text += fraction < 10 ? "00\(fraction)Z" : fraction < 100 ? "0\(fraction)Z" : "\(fraction)Z"
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        let data = (try? encoder().encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        response(["error": message], status: status)
    }
}

/// Server-Sent Events for one page: every event after `after` (a reconnecting EventSource's
/// `Last-Event-ID`), then new ones as they come, at most ten writes a second (a burst of log
/// lines is one write), a comment every 15 s so a closed page is noticed. Only the newest state
/// of a batch is sent (a state is a whole snapshot). A gap — the page asked for events the ring
/// no longer holds — is an `event: reset`, after which the page reloads state and logs.
struct EventStream {
    let events: StackEvents
    /// Where the reader is: `EPOCH-ID` (as the stream's ids), a bare id, or nil for "from now".
    let after: Int?

    /// The id in `EPOCH-ID` or `ID`; an id of another run of the supervisor reads as "newer than
    /// anything", which the ring answers with a gap (a reset).
    static func position(_ text: String?, epoch: String) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: "-", maxSplits: 1)
        if parts.count == 2 {
            guard parts[0] == epoch, let id = Int(parts[1]), id >= 0 else { return Int.max }
            return id
        }
        guard let id = Int(text), id >= 0 else { return Int.max }
        return id
    }

    func run(into writer: inout any ResponseBodyWriter) async throws {
        let encoder = DashboardJSON.encoder()
        var last = after ?? events.newestID
        var quiet = ContinuousClock.now
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        while !Task.isCancelled, !events.isClosed {
            if events.newestID != last {
                let slice = events.events(after: last, limit: 5000)
                var text = ""
                if slice.gap {
                    last = slice.newest
                    text = "id: \(events.epoch)-\(last)\nevent: reset\ndata: {}\n\n"
                } else if let newest = slice.events.last {
                    let lastState = slice.events.lastIndex { if case .state = $0.payload { true } else { false } }
                    for (index, event) in slice.events.enumerated() {
                        if case .state = event.payload, index != lastState { continue }
                        // The batch's last event carries the id, so a reconnect resumes after it.
                        if event.id == newest.id { text += "id: \(events.epoch)-\(event.id)\n" }
                        switch event.payload {
                        case .log(let source, let line):
                            // Written by hand: a flood of lines is most of what a stream carries.
                            text += "event: log\ndata: "
                            DashboardJSON.appendLog(id: event.id, time: event.time, source: source, line: line, to: &text)
                            text += "\n\n"
                        case .state:
                            let data = (try? encoder.encode(EventView(event))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                            text += "event: state\ndata: \(data)\n\n"
                        }
                    }
                    last = newest.id
                }
                if !text.isEmpty {
                    try await writer.write(ByteBuffer(string: text))
                    quiet = .now
                }
            } else if ContinuousClock.now - quiet > .seconds(15) {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                quiet = .now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await writer.finish(nil)
    }
}

/// `POST /api/v1/watcher/say`.
struct WatcherLine: Codable {
    var line: String
}

/// `POST /api/v1/watcher/watch` (nil: the watcher ends) and `…/state`'s answer.
struct WatcherRecord: Codable {
    var record: StackState.WatchRecord?
}

/// `POST /api/v1/watcher/restart`: services to restart, in order, on a build in the stack's
/// binary folder.
struct WatcherRestart: Codable {
    var names: [String]
    var executable: String
    var timeoutSeconds: Int
}
