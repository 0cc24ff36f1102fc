import Foundation
import Hummingbird
import Logging
import NIOCore
import Protos
import ServiceLifecycle
import SwiftProtobuf

/// devctl's own OTLP/HTTP trace receiver: `POST /v1/traces` (protobuf, as every OTLP exporter
/// sends by default) into a bounded ``TraceStore``, and the JSON API `devctl traces` and the
/// dashboard read: `GET /api/traces` (summaries; `service`, `min_duration_ms`, `errors`,
/// `since_seconds`, `limit`) and `GET /api/traces/{id}` (the spans). Loopback only: nothing in
/// it is meant for another machine.
public struct OTLPReceiver: Sendable {
    public let store: TraceStore
    /// Largest request body accepted (an exporter's batch is 512 spans by default).
    public static let maxBodyBytes = 16 * 1024 * 1024

    public init(store: TraceStore) {
        self.store = store
    }

    /// The receiver's routes (tests serve them on their own port).
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let store = store
        router.post("/v1/traces") { request, _ -> Response in
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("application/x-protobuf") else {
                return Self.plain(.unsupportedMediaType, "send OTLP as application/x-protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf); got \"\(contentType)\"")
            }
            if let encoding = request.headers[.contentEncoding], !["", "identity"].contains(encoding.lowercased()) {
                return Self.plain(.unsupportedMediaType, "Content-Encoding \"\(encoding)\" is not supported here; send uncompressed (OTEL_EXPORTER_OTLP_COMPRESSION=none)")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: Self.maxBodyBytes)
            } catch {
                return Self.plain(.contentTooLarge, "an export request may be at most \(Self.maxBodyBytes) bytes")
            }
            let export: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
            do {
                export = try .init(serializedBytes: Array(body.readableBytesView))
            } catch {
                return Self.plain(.badRequest, "not an ExportTraceServiceRequest: \(error)")
            }
            await store.add(Self.spans(in: export))
            var headers = HTTPFields()
            headers[.contentType] = "application/x-protobuf"
            let answer: [UInt8] = (try? Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse().serializedBytes()) ?? []
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: answer)))
        }
        Self.addQueryRoutes(to: router, at: "/api/traces", store: store)
        return router
    }

    /// The query routes (`devctl traces` and the dashboard read them): at `path`, summaries
    /// (`service`, `min_duration_ms`, `errors`, `since_seconds`, `limit`); at `path/{id}`, one
    /// trace by id, unique prefix or `traceparent`.
    public static func addQueryRoutes(to router: Router<BasicRequestContext>, at path: String, store: TraceStore) {
        router.get(RouterPath(path)) { request, _ -> Response in
            let query = request.uri.queryParameters
            var filter = TraceFilter()
            filter.service = query["service"].map(String.init)
            filter.errorsOnly = query["errors"].map { $0 == "true" || $0 == "1" } ?? false
            if let text = query["min_duration_ms"] {
                guard let ms = Double(String(text)), ms.isFinite, ms >= 0 else { return Self.plain(.badRequest, "min_duration_ms must be a number of milliseconds") }
                filter.minimumDurationNanos = Self.nanoseconds(ms * 1e6)
            }
            if let text = query["since_seconds"] {
                guard let seconds = Double(String(text)), seconds.isFinite, seconds >= 0 else { return Self.plain(.badRequest, "since_seconds must be a number of seconds") }
                let now = UInt64(Date().timeIntervalSince1970 * 1e9)
                filter.sinceUnixNano = now - min(now, Self.nanoseconds(seconds * 1e9))
            }
            if let text = query["limit"] {
                guard let limit = Int(String(text)), limit > 0 else { return Self.plain(.badRequest, "limit must be a positive number") }
                filter.limit = limit
            }
            return Self.json(TraceList(traces: await store.summaries(filter), held: await store.count, capacity: store.maxTraces))
        }
        router.get(RouterPath(path + "/{id}")) { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            let found: Result<[StoredSpan], TraceLookupError> = await store.lookup(id)
            switch found {
            case .success(let spans):
                return Self.json(TraceDetail(summary: TraceStore.summarize(spans), spans: spans))
            case .failure(let error):
                switch error {
                case .malformed: return Self.plain(.badRequest, error.description)
                case .notFound: return Self.plain(.notFound, error.description)
                case .ambiguous: return Self.plain(.conflict, error.description)
                }
            }
        }
    }

    /// Serves the receiver on 127.0.0.1:`port` (0: any free port) until the service group stops;
    /// `onListening` gets the port once it accepts connections.
    public func makeApplication(port: Int, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "devctl-traces"),
                    onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// Every span of an export, flattened with its resource's `service.name`.
    static func spans(in export: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest) -> [StoredSpan] {
        var result: [StoredSpan] = []
        for resourceSpans in export.resourceSpans {
            let service = resourceSpans.resource.attributes.first { $0.key == "service.name" }.map { text(of: $0.value) } ?? "unknown_service"
            for scope in resourceSpans.scopeSpans {
                for span in scope.spans where span.traceID.count == 16 && span.spanID.count == 8 {
                    var attributes: [String: String] = [:]
                    for attribute in span.attributes.prefix(TraceStore.maxAttributes) { attributes[attribute.key] = text(of: attribute.value) }
                    result.append(StoredSpan(
                        traceID: hex(span.traceID),
                        spanID: hex(span.spanID),
                        parentSpanID: span.parentSpanID.count == 8 ? hex(span.parentSpanID) : "",
                        name: span.name,
                        kind: kindName(span.kind),
                        service: service,
                        startUnixNano: span.startTimeUnixNano,
                        endUnixNano: span.endTimeUnixNano,
                        status: span.status.code == .error ? "error" : span.status.code == .ok ? "ok" : "unset",
                        statusMessage: span.status.message,
                        attributes: attributes
                    ))
                }
            }
        }
        return result
    }

    /// Whole nanoseconds from a finite, non-negative count, clamped (a huge value must not trap).
    public static func nanoseconds(_ value: Double) -> UInt64 {
        value >= 1.8e19 ? UInt64.max : UInt64(max(0, value))
    }

    static func hex(_ bytes: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func text(of value: Opentelemetry_Proto_Common_V1_AnyValue) -> String {
        switch value.value {
        case .stringValue(let text): text
        case .boolValue(let flag): String(flag)
        case .intValue(let number): String(number)
        case .doubleValue(let number): String(number)
        case .arrayValue(let array): "[" + array.values.map(text(of:)).joined(separator: ", ") + "]"
        case .kvlistValue(let list): "{" + list.values.map { "\($0.key)=\(text(of: $0.value))" }.joined(separator: ", ") + "}"
        case .bytesValue(let bytes): hex(bytes)
        case nil: ""
        }
    }

    static func kindName(_ kind: Opentelemetry_Proto_Trace_V1_Span.SpanKind) -> String {
        switch kind {
        case .server: "server"
        case .client: "client"
        case .internal: "internal"
        case .producer: "producer"
        case .consumer: "consumer"
        default: "unspecified"
        }
    }

    static func plain(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func json(_ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `GET /api/traces`: the newest summaries and how full the store is.
public struct TraceList: Codable, Sendable {
    public var traces: [TraceSummary]
    public var held: Int
    public var capacity: Int
}

/// `GET /api/traces/{id}`: one trace's summary and spans (parents before children).
public struct TraceDetail: Codable, Sendable {
    public var summary: TraceSummary
    public var spans: [StoredSpan]
}
