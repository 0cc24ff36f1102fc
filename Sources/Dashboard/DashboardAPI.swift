import Foundation
import Hummingbird
import NIOCore
import Stack

/// `GET /api/v1/state`: the stack as `status --json` has it, and where the event stream is.
struct StateView: Encodable {
    var stack: StackState
    /// The id of the newest event: follow `/api/v1/events?after=` this.
    var newestEvent: Int
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
}

/// `GET /api/v1/logs`: the newest lines held (all processes, or `source`'s), oldest first.
struct LogList: Encodable {
    var lines: [EventView]
    var newest: Int
}

enum DashboardJSON {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
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
    let after: Int?

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
                    last = events.newestID
                    text = "id: \(last)\nevent: reset\ndata: {}\n\n"
                } else if let newest = slice.events.last {
                    let lastState = slice.events.lastIndex { if case .state = $0.payload { true } else { false } }
                    for (index, event) in slice.events.enumerated() {
                        if case .state = event.payload, index != lastState { continue }
                        let view = EventView(event)
                        let data = (try? encoder.encode(view)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                        // The batch's last event carries the id, so a reconnect resumes after it.
                        text += (event.id == newest.id ? "id: \(event.id)\n" : "") + "event: \(view.kind)\ndata: \(data)\n\n"
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
