import Foundation
import Testing
import TestSupport
@testable import Telemetry

@Suite struct TraceRenderingTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/waterfall.txt").path

    /// The waterfall of a Greet: children under parents by start, bars on the trace's timeline,
    /// errors with their message, key attributes.
    @Test func waterfall() throws {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let ms: UInt64 = 1_000_000
        let spans = [
            span(trace, "a000000000000001", parent: "00f067aa0ba902b7", name: "greeter.v1.GreeterService/Greet", service: "greeter",
                 start: 0, end: 20 * ms, attributes: ["rpc.system": "connect_rpc", "http.response.status_code": "200"]),
            span(trace, "a000000000000002", parent: "a000000000000001", name: "caller.v1.CallerService/CallExternal", service: "greeter",
                 start: 1 * ms, end: 14 * ms, attributes: ["rpc.system": "connect_rpc"]),
            span(trace, "a000000000000003", parent: "a000000000000002", name: "caller.v1.CallerService/CallExternal", service: "caller",
                 start: 2 * ms, end: 13 * ms, status: "error", attributes: ["rpc.connect_rpc.error_code": "unavailable"]),
            span(trace, "a000000000000005", parent: "a000000000000001", name: "INSERT greetings", service: "greeter",
                 start: 15 * ms, end: 19 * ms, attributes: ["db.namespace": "greeter_db", "db.query.text": "INSERT INTO greetings (name) VALUES ($1)"]),
            span(trace, "a000000000000004", parent: "a000000000000003", name: "GET", service: "caller",
                 start: 3 * ms, end: 8 * ms, attributes: ["http.response.status_code": "503"]),
        ]
        try Golden.check(TraceRendering.waterfall(spans), against: Self.golden, group: "traces")
    }

    @Test func bars() {
        #expect(TraceRendering.bar(offset: 0, duration: 100, total: 100, width: 10) == "|██████████|")
        #expect(TraceRendering.bar(offset: 50, duration: 10, total: 100, width: 10) == "|     █    |")
        // Never empty, never past the end.
        #expect(TraceRendering.bar(offset: 99, duration: 0, total: 100, width: 10) == "|         █|")
    }

    @Test func tableOfTraces() {
        let now = Date(timeIntervalSince1970: 1_000)
        let text = TraceRendering.table([TraceSummary(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", root: "POST /auth/login", rootService: "auth",
                                                      status: "ok", startUnixNano: 990_000_000_000, durationNanos: 93_560_000, spanCount: 2,
                                                      services: ["auth"])], now: now)
        #expect(text == """
            TRACE                             STARTED  ROOT              SERVICES  SPANS  DURATION  STATUS
            4bf92f3577b34da6a3ce929d0e0e4736  10s ago  POST /auth/login  auth      2      93.56 ms  ok

            """)
        #expect(TraceRendering.table([]).hasPrefix("no traces yet"))
    }
}
