import AsyncHTTPClient
import DevctlCore
import Foundation
import NIOCore
import Telemetry

/// Reads the running stack's traces from devctl's receiver (`devctl traces`).
public struct TraceQuery: Sendable {
    /// The receiver's base URL (`http://127.0.0.1:PORT`).
    public let receiver: String

    /// The receiver of the stack whose state is `state`; a clear failure when there is none.
    public init(state: StackState?, running: Bool) throws {
        guard let state, running else {
            throw DevctlFailure("no stack is running in this repository, so there are no traces to show",
                                hint: "devctl up starts the stack; its services send their traces to devctl")
        }
        guard let traces = state.traces, let receiver = traces.receiver else {
            if let external = state.traces?.externalEndpoint {
                throw DevctlFailure(external.isEmpty ? "tracing is off: the stack was started with OTEL_EXPORTER_OTLP_ENDPOINT empty"
                                                     : "the services send their traces to \(external) (OTEL_EXPORTER_OTLP_ENDPOINT), not to devctl",
                                    hint: "look them up there, or restart the stack without OTEL_EXPORTER_OTLP_ENDPOINT")
            }
            throw DevctlFailure("this stack was started by a devctl without a trace receiver", hint: "restart it: devctl down && devctl up -d")
        }
        self.receiver = receiver
    }

    /// Recent traces matching `filter`.
    public func list(_ filter: TraceFilter) async throws -> TraceList {
        var query = ["limit=\(filter.limit)"]
        if let service = filter.service { query.append("service=\(service.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? service)") }
        if let minimum = filter.minimumDurationNanos { query.append("min_duration_ms=\(Double(minimum) / 1e6)") }
        if filter.errorsOnly { query.append("errors=true") }
        if let since = filter.sinceUnixNano {
            let now = UInt64(Date().timeIntervalSince1970 * 1e9)
            query.append("since_seconds=\(Double(now - min(now, since)) / 1e9)")
        }
        return try await get("/api/traces?" + query.joined(separator: "&"), as: TraceList.self)
    }

    /// One trace by id (or unique prefix, or a whole `traceparent`).
    public func trace(_ id: String) async throws -> TraceDetail {
        let escaped = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-"])) ?? id
        return try await get("/api/traces/" + escaped, as: TraceDetail.self)
    }

    private func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(HTTPClientRequest(url: receiver + path), timeout: .seconds(5))
            body = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw DevctlFailure("cannot reach devctl's trace receiver at \(receiver): \(error)", hint: "devctl status shows whether the stack still runs")
        }
        guard response.status == .ok else {
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            throw DevctlFailure(text.isEmpty ? "the trace receiver answered HTTP \(response.status.code)" : text,
                                exitCode: response.status == .badRequest ? 2 : 1)
        }
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}
