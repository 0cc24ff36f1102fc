import Foundation
import Hummingbird
import HummingbirdTesting
import Protos
import SwiftProtobuf
import Testing
@testable import Telemetry

@Suite struct OTLPReceiverTests {
    static func export(trace: [UInt8], span: [UInt8], parent: [UInt8] = [], service: String, name: String) -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var serviceName = Opentelemetry_Proto_Common_V1_KeyValue()
        serviceName.key = "service.name"
        serviceName.value.stringValue = service
        resourceSpans.resource.attributes = [serviceName]
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        var item = Opentelemetry_Proto_Trace_V1_Span()
        item.traceID = Data(trace)
        item.spanID = Data(span)
        item.parentSpanID = Data(parent)
        item.name = name
        item.kind = .server
        item.startTimeUnixNano = 1_000_000
        item.endTimeUnixNano = 3_500_000
        item.status.code = .error
        item.status.message = "boom"
        var code = Opentelemetry_Proto_Common_V1_KeyValue()
        code.key = "rpc.grpc.status_code"
        code.value.intValue = 14
        item.attributes = [code]
        scope.spans = [item]
        resourceSpans.scopeSpans = [scope]
        request.resourceSpans = [resourceSpans]
        return request
    }

    @Test func storesExportedSpansAndServesThem() async throws {
        let store = TraceStore()
        let app = Application(router: OTLPReceiver(store: store).makeRouter())
        try await app.test(.router) { client in
            let body = try Self.export(trace: Array(0..<16), span: Array(16..<24), parent: Array(24..<32), service: "greeter", name: "Greet").serializedBytes() as [UInt8]
            try await client.execute(uri: "/v1/traces", method: .post, headers: [.contentType: "application/x-protobuf"], body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-protobuf")
                // An ExportTraceServiceResponse without partial_success: empty.
                #expect(response.body.readableBytes == 0)
            }
            try await client.execute(uri: "/api/traces?service=greeter&errors=true", method: .get) { response in
                #expect(response.status == .ok)
                let list = try JSONDecoder().decode(TraceList.self, from: Data(response.body.readableBytesView))
                #expect(list.traces.map(\.traceID) == ["000102030405060708090a0b0c0d0e0f"])
                #expect(list.traces.first?.durationNanos == 2_500_000)
            }
            try await client.execute(uri: "/api/traces/00010203", method: .get) { response in
                let detail = try JSONDecoder().decode(TraceDetail.self, from: Data(response.body.readableBytesView))
                #expect(detail.spans == [StoredSpan(traceID: "000102030405060708090a0b0c0d0e0f", spanID: "1011121314151617",
                                                    parentSpanID: "18191a1b1c1d1e1f", name: "Greet", kind: "server", service: "greeter",
                                                    startUnixNano: 1_000_000, endUnixNano: 3_500_000, status: "error", statusMessage: "boom",
                                                    attributes: ["rpc.grpc.status_code": "14"])])
            }
            try await client.execute(uri: "/api/traces?service=auth", method: .get) { response in
                let list = try JSONDecoder().decode(TraceList.self, from: Data(response.body.readableBytesView))
                #expect(list.traces.isEmpty)
            }
        }
    }

    @Test func refusesWhatItCannotRead() async throws {
        let app = Application(router: OTLPReceiver(store: TraceStore()).makeRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/traces", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unsupportedMediaType)
                #expect(String(buffer: response.body).contains("http/protobuf"))
            }
            try await client.execute(uri: "/v1/traces", method: .post, headers: [.contentType: "application/x-protobuf"], body: ByteBuffer(bytes: [0xFF, 0xFF, 0xFF])) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v1/traces", method: .post, headers: [.contentType: "application/x-protobuf", .contentEncoding: "gzip"], body: ByteBuffer(bytes: [1])) { response in
                #expect(response.status == .unsupportedMediaType)
            }
            try await client.execute(uri: "/api/traces/0123456789", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/traces/xyz", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/traces?min_duration_ms=soon", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            // Numbers that do not fit (they trapped the receiver, and with it the supervisor).
            for query in ["since_seconds=inf", "min_duration_ms=nan", "since_seconds=-1"] {
                try await client.execute(uri: "/api/traces?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest, "\(query)")
                }
            }
            for query in ["since_seconds=1e300", "min_duration_ms=1e300"] {
                try await client.execute(uri: "/api/traces?\(query)", method: .get) { response in
                    #expect(response.status == .ok, "\(query)")
                }
            }
        }
    }
}
