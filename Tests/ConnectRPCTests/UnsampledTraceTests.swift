import ConnectRPC
import NIOHTTP1
import Testing
import Tracing

/// Which `traceparent` values make a request an unsampled pass-through (no spans), and what is
/// forwarded for it.
struct UnsampledTraceTests {
    let id = "4bf92f3577b34da6a3ce929d0e0e4736", parent = "00f067aa0ba902b7"

    @Test func onlyValidHeadersWithTheSampledFlagClear() {
        for flags in ["00", "02", "0a", "fe"] {
            #expect(UnsampledTrace(traceparent: "00-\(id)-\(parent)-\(flags)") != nil, "\(flags)")
        }
        for flags in ["01", "03", "0b", "ff"] {
            #expect(UnsampledTrace(traceparent: "00-\(id)-\(parent)-\(flags)") == nil, "\(flags) is sampled")
        }
        let malformed = [
            "", "garbage", "01-\(id)-\(parent)-00", "00-\(id.uppercased())-\(parent)-00", "00-\(id)-\(parent)-00-extra",
            "00-\(String(repeating: "0", count: 32))-\(parent)-00", "00-\(id)-\(String(repeating: "0", count: 16))-00",
            "00-\(id)_\(parent)-00", "00-\(id)-\(parent)-0g",
        ]
        for header in malformed {
            #expect(UnsampledTrace(traceparent: header) == nil, "\(header)")
        }
    }

    @Test func itsIdsAndWhatIsForwarded() throws {
        let trace = try #require(UnsampledTrace(traceparent: "00-\(id)-\(parent)-00", tracestate: "vendor=x"))
        #expect(trace.traceID == id)
        #expect(trace.parentSpanID == parent)
        let headers = trace.injected(into: HTTPHeaders([("traceparent", "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01")]))
        #expect(headers["traceparent"] == ["00-\(id)-\(parent)-00"])
        #expect(headers["tracestate"] == ["vendor=x"])
    }

    @Test func theTaskContextCarriesIt() async throws {
        #expect(UnsampledTrace.current == nil)
        var context = ServiceContext.topLevel
        context.unsampledTrace = UnsampledTrace(traceparent: "00-\(id)-\(parent)-00")
        let seen = ServiceContext.$current.withValue(context) { UnsampledTrace.current?.traceID }
        #expect(seen == Substring(id))
    }
}
