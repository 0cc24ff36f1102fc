import Foundation
import Testing
@testable import Telemetry

func span(_ trace: String, _ id: String, parent: String = "", name: String = "op", service: String = "svc",
          start: UInt64 = 1_000, end: UInt64 = 2_000, status: String = "unset", attributes: [String: String] = [:]) -> StoredSpan {
    StoredSpan(traceID: trace, spanID: id, parentSpanID: parent, name: name, kind: "server", service: service,
               startUnixNano: start, endUnixNano: end, status: status, attributes: attributes)
}

func traceID(_ number: Int) -> String { String(format: "%032x", number) }

@Suite struct TraceStoreTests {
    /// A flood of traces never holds more than the limit: the first to arrive leave first.
    @Test func keepsOnlyTheNewestTraces() async {
        let store = TraceStore(maxTraces: 100)
        for number in 1...10_000 {
            await store.add([span(traceID(number), "00000000000000aa", start: UInt64(number))])
        }
        #expect(await store.count == 100)
        let ids = Set(await store.summaries(.init(limit: 1_000)).map(\.traceID))
        #expect(ids == Set((9_901...10_000).map(traceID)))
    }

    /// One trace cannot grow without bound either, nor can a span's attributes.
    @Test func boundsSpansPerTraceAndAttributes() async throws {
        let store = TraceStore(maxTraces: 10, maxSpansPerTrace: 50)
        let huge = String(repeating: "x", count: 10_000)
        var attributes: [String: String] = [:]
        for index in 0..<200 { attributes["key\(index)"] = huge }
        await store.add((0..<500).map { span(traceID(1), String(format: "%016x", $0), attributes: attributes) })
        let spans = try await store.trace(traceID(1))
        #expect(spans.count == 50)
        #expect(await store.droppedSpans == 450)
        #expect(spans.allSatisfy { $0.attributes.count == TraceStore.maxAttributes })
        #expect(spans.allSatisfy { $0.attributes.values.allSatisfy { $0.count <= TraceStore.maxAttributeLength + 1 } })
    }

    /// An exporter that retries a batch sends its spans again: each is kept once.
    @Test func aSpanSentTwiceIsKeptOnce() async throws {
        let store = TraceStore()
        let batch = [span(traceID(3), "0000000000000001"), span(traceID(3), "0000000000000002", parent: "0000000000000001")]
        await store.add(batch)
        await store.add(batch)
        #expect(try await store.trace(traceID(3)).count == 2)
    }

    @Test func summaryFindsTheRootAndTheOutcome() async {
        let store = TraceStore()
        let trace = traceID(7)
        await store.add([
            span(trace, "000000000000000b", parent: "000000000000000a", name: "child", service: "caller", start: 1_500, end: 1_800, status: "error"),
            // Its parent is the edge's span, which is never exported: still the root.
            span(trace, "000000000000000a", parent: "00000000000000ff", name: "greeter.v1.GreeterService/Greet", service: "greeter", start: 1_000, end: 3_000),
        ])
        let summary = await store.summaries().first
        #expect(summary?.root == "greeter.v1.GreeterService/Greet")
        #expect(summary?.rootService == "greeter")
        #expect(summary?.status == "error")
        #expect(summary?.durationNanos == 2_000)
        #expect(summary?.spanCount == 2)
        #expect(summary?.services == ["greeter", "caller"])
    }

    @Test func filters() async {
        let store = TraceStore()
        await store.add([span(traceID(1), "0000000000000001", service: "greeter", start: 100, end: 50_000_100)])
        await store.add([span(traceID(2), "0000000000000002", service: "auth", start: 200, end: 1_200, status: "error")])
        #expect(await store.summaries(.init(service: "auth")).map(\.traceID) == [traceID(2)])
        #expect(await store.summaries(.init(minimumDurationNanos: 10_000_000)).map(\.traceID) == [traceID(1)])
        #expect(await store.summaries(.init(errorsOnly: true)).map(\.traceID) == [traceID(2)])
        #expect(await store.summaries(.init(sinceUnixNano: 150)).map(\.traceID) == [traceID(2)])
        #expect(await store.summaries().map(\.traceID) == [traceID(2), traceID(1)])
    }

    /// An id as a log line, the edge's X-Request-Id or a traceparent shows it; a prefix too.
    @Test func looksUpByIdPrefixOrTraceparent() async throws {
        let store = TraceStore()
        let first = "4bf92f3577b34da6a3ce929d0e0e4736", second = "4bf92f35ffffffffffffffffffffffff"
        await store.add([span(first, "00f067aa0ba902b7"), span(second, "00f067aa0ba902b8")])
        #expect(try await store.trace(first.uppercased()).first?.traceID == first)
        #expect(try await store.trace("00-\(first)-00f067aa0ba902b7-01").first?.traceID == first)
        #expect(try await store.trace("4bf92f3577").first?.traceID == first)
        await #expect(throws: TraceLookupError.ambiguous("4bf92f35", 2)) { try await store.trace("4bf92f35") }
        await #expect(throws: TraceLookupError.notFound("0123456789abcdef")) { try await store.trace("0123456789abcdef") }
        await #expect(throws: TraceLookupError.malformed("abc")) { try await store.trace("abc") }
        await #expect(throws: TraceLookupError.malformed("not-a-trace-id!")) { try await store.trace("not-a-trace-id!") }
    }

    @Test func databaseSpanNamesNeverCarryValues() {
        #expect(DatabaseSpans.summary(of: "INSERT INTO greetings (name, message) VALUES ($1, $2)") == "INSERT greetings")
        #expect(DatabaseSpans.summary(of: "SELECT id::text, email FROM users WHERE id = $1") == "SELECT users")
        #expect(DatabaseSpans.summary(of: "UPDATE \"users\" SET role = $1") == "UPDATE users")
        #expect(DatabaseSpans.summary(of: "SELECT 1") == "SELECT")
        #expect(DatabaseSpans.summary(of: "  ") == "query")
    }
}
