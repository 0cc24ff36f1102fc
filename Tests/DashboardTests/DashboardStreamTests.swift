@testable import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Stack
import Synchronization
import Testing

/// What the dashboard sends without a server around it: the event stream's framing and
/// batching, and a page that needs nothing from the network.
@Suite struct DashboardStreamTests {
    final class Output: Sendable {
        let text = Mutex("")
    }

    private func stream(_ events: StackEvents, after: Int?, output: Output) -> Task<Void, any Error> {
        Task {
            var writer: any ResponseBodyWriter = SharedWriter(output: output)
            try await EventStream(events: events, after: after).run(into: &writer)
        }
    }

    /// Collects what a response body writes.
    struct SharedWriter: ResponseBodyWriter {
        let output: Output
        mutating func write(_ buffer: ByteBuffer) async throws {
            output.text.withLock { $0 += String(buffer: buffer) }
        }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
            output.text.withLock { $0 += "<end>" }
        }
    }

    private func state(_ phase: StackState.Phase) -> StackState {
        StackState(supervisorPID: 1, startedAt: Date(timeIntervalSince1970: 0), detached: false, phase: phase, processes: [])
    }

    @Test func aBurstIsOneBatchWithOneIdAndOnlyItsNewestState() async throws {
        let events = StackEvents(capacity: 100)
        events.log(source: "greeter", line: "before")
        let output = Output()
        let task = stream(events, after: nil, output: output)
        try await Task.sleep(for: .milliseconds(250))
        events.state(state(.starting))
        events.log(source: "greeter", line: #"{"level":"info","msg":"one"}"#)
        events.state(state(.running))
        events.log(source: "caller", line: "two")
        try await Task.sleep(for: .milliseconds(400))
        events.close()
        try await task.value
        let text = output.text.withLock { $0 }
        #expect(text.hasPrefix("retry: 1000\n\n"))
        #expect(!text.contains("before"), "a stream without Last-Event-ID starts at the newest event")
        #expect(text.hasSuffix("<end>"), "closing the events ends the stream")
        // Events 2…5: the first state is superseded by the second within the batch.
        #expect(!text.contains(#""phase":"starting""#), "\(text)")
        #expect(text.contains(#""phase":"running""#), "\(text)")
        let frames = text.components(separatedBy: "\n\n").filter { $0.contains("data: ") }
        #expect(frames.count == 3, "\(frames)")
        #expect(frames.map { $0.components(separatedBy: "\n").first { $0.hasPrefix("event: ") } } == ["event: log", "event: state", "event: log"])
        #expect(text.components(separatedBy: "id: ").count == 2, "one id per batch: \(text)")
        #expect(text.contains("id: \(events.epoch)-5\nevent: log\n"), "\(text)")
        #expect(text.contains(#"\"msg\":\"one\""#), "the log line is a JSON string inside the event: \(text)")
    }

    @Test func aResumeReplaysFromTheIdAndAGapResets() async throws {
        let events = StackEvents(capacity: 3)
        for index in 1...6 { events.log(source: "auth", line: "line \(index)") }
        let resumed = Output()
        let task = stream(events, after: 4, output: resumed)
        try await Task.sleep(for: .milliseconds(250))
        let lost = Output()
        let late = stream(events, after: 1, output: lost)
        try await Task.sleep(for: .milliseconds(250))
        events.close()
        try await task.value
        try await late.value
        let text = resumed.text.withLock { $0 }
        #expect(text.contains("line 5") && text.contains("line 6") && !text.contains("line 4"), "\(text)")
        let reset = lost.text.withLock { $0 }
        #expect(reset.contains("id: \(events.epoch)-6\nevent: reset\n"), "events 2…3 are gone: \(reset)")
    }

    @Test func aPositionOfAnotherRunIsAGap() {
        #expect(EventStream.position("abc-12", epoch: "abc") == 12)
        #expect(EventStream.position("12", epoch: "abc") == 12)
        #expect(EventStream.position("zzz-12", epoch: "abc") == Int.max, "another run's id")
        #expect(EventStream.position("nonsense", epoch: "abc") == Int.max)
        #expect(EventStream.position(nil, epoch: "abc") == nil)
        let events = StackEvents(capacity: 10)
        events.log(source: "a", line: "x")
        #expect(events.events(after: Int.max).gap)
    }

    @Test func aHugeLineIsCutInTheRing() {
        let events = StackEvents(capacity: 10)
        events.log(source: "a", line: String(repeating: "x", count: 100_000))
        guard case .log(_, let line) = events.events(after: 0).events.first?.payload else {
            Issue.record("no line")
            return
        }
        #expect(line.utf8.count < StackEvents.maxLineBytes + 100)
        #expect(line.hasSuffix("(100000 bytes; the whole line is in the log file)"))
    }

    @Test func thePageLoadsNothingFromTheNetwork() {
        let html = DashboardPage.html
        let addresses = html.matches(of: /https?:\/\/[^\s"')]+/).map { String($0.output) }
        #expect(addresses.allSatisfy { $0.hasPrefix("http://www.w3.org/2000/svg") }, "\(addresses)")
        #expect(html.components(separatedBy: "{{TOKEN}}").count == 2, "the token goes in once")
        #expect(!html.contains("innerHTML"), "log lines are set as text, never parsed as HTML")
    }
}

/// The hand-written log event is what the encoder would write (the page parses either).
@Suite struct DashboardJSONTests {
    @Test(arguments: ["plain", #"{"level":"info","msg":"quote \" and \\ backslash"}"#, "tab\tnew\nline\r\u{1}\u{1F}", "ünïcödé 🚀", ""])
    func aLogEventEncodesAsTheEncoderWould(line: String) throws {
        let time = Date(timeIntervalSince1970: 1_795_900_000.0071)
        var text = ""
        DashboardJSON.appendLog(id: 42, time: time, source: "greeter", line: line, to: &text)
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(decoded["line"] as? String == line)
        #expect(decoded["source"] as? String == "greeter")
        #expect(decoded["id"] as? Int == 42)
        #expect(decoded["kind"] as? String == "log")
        let encoded = try DashboardJSON.encoder().encode(EventView(StackEvent(id: 42, time: time, payload: .log(source: "greeter", line: line))))
        let viaEncoder = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(decoded["time"] as? String == viaEncoder["time"] as? String)
        #expect(decoded["time"] as? String == "2026-11-28T21:06:40.007Z")
    }
}
