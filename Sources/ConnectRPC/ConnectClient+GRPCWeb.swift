import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// Unary calls over gRPC-Web (PROTOCOL-WEB.md) on the same HTTP/1.1 transport as Connect: the
/// message in an envelope, the status in a trailer frame at the end of the body (or, for a
/// trailers-only answer, in the headers). Trailers come back as `trailer-` headers, as in Connect.
extension ConnectClient {
    func grpcWebUnary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String, _ message: Input, as output: Output.Type, headers: HTTPHeaders?, timeout: Duration?
    ) async throws -> Response<Output> {
        var headers = Self.applicationHeaders(headers)
        headers.replaceOrAdd(name: "Content-Type", value: "application/grpc-web+\(codec.rawValue)")
        headers.replaceOrAdd(name: "X-Grpc-Web", value: "1")
        headers.replaceOrAdd(name: "Grpc-Accept-Encoding", value: "gzip")
        var payload = try codec.encode(message)
        var flags: Envelope.Flags = []
        if let minimum = compressionMinBytes, payload.readableBytes >= minimum {
            payload = try ConnectCompression.gzip(payload)
            flags = .compressed
            headers.replaceOrAdd(name: "Grpc-Encoding", value: "gzip")
        }
        let effectiveTimeout = timeout ?? self.timeout
        if let effectiveTimeout { headers.replaceOrAdd(name: "Grpc-Timeout", value: GRPCWire.timeoutHeader(effectiveTimeout)) }
        let body = Envelope(flags: flags, payload: payload).encoded()
        let response = try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: .unary, wire: .grpcWeb), headers: headers) { [self] headers in
            try await exchange(procedure, headers: headers, body: body, timeout: effectiveTimeout)
        }
        guard response.status == .ok else {
            // gRPC-Web answers errors with 200; another status is the HTTP layer's (a proxy, a 404).
            throw ConnectError(ConnectCode(inferringFrom: Int(response.status.code)), "HTTP \(response.status.code) \(response.status.reasonPhrase) from \(procedure)")
        }
        var reader = EnvelopeReader(maxMessageBytes: maxResponseBytes)
        reader.append(response.body)
        var messages: [ByteBuffer] = []
        var trailers: [(String, String)] = []
        do {
            while let frame = try reader.next() {
                let bytes = try frame.uncompressedPayload(gzipNamed: response.headers.first(name: "Grpc-Encoding")?.lowercased() == "gzip",
                                                          limit: maxResponseBytes, what: "the response of \(procedure)", corrupt: .internal)
                // Some servers (connect-python) compress the trailer frame too.
                if frame.flags.contains(.trailers) {
                    trailers = Self.trailerLines(bytes)
                    break
                }
                messages.append(bytes)
            }
            try reader.finish()
        } catch let failure as EnvelopeReader.Failure {
            throw ConnectError(.internal, "response of \(procedure): \(failure)")
        }
        // Trailers-only: the status travels in the headers.
        if trailers.isEmpty { trailers = response.headers.filter { $0.name.lowercased().hasPrefix("grpc-") }.map { ($0.name, $0.value) } }
        func trailer(_ name: String) -> String? { trailers.first { $0.0.lowercased() == name }?.1 }
        guard let statusText = trailer("grpc-status"), let status = Int(statusText) else {
            throw ConnectError(.internal, "\(procedure) ended without a grpc-status")
        }
        var resultHeaders = response.headers
        for (name, value) in trailers where ConnectMetadata.isApplicationHeader(name) { resultHeaders.add(name: "trailer-" + name, value: value) }
        if let code = GRPCWire.code(ofStatus: status) {
            let metadata = Self.applicationMetadata(HTTPHeaders(response.headers.map { ($0.name, $0.value) } + trailers))
            let details = trailer("grpc-status-details-bin").map(GRPCWire.details(fromStatusDetails:)) ?? []
            throw ConnectError(code, GRPCWire.percentDecode(trailer("grpc-message") ?? ""), details: details, metadata: metadata)
        }
        guard messages.count == 1, let only = messages.first else {
            throw ConnectError(.unimplemented, "\(procedure) answered a unary call with \(messages.count) messages")
        }
        do {
            return Response(message: try codec.decode(Output.self, from: only), headers: resultHeaders)
        } catch {
            throw ConnectError(.internal, "cannot decode the response of \(procedure) as \(Output.protoMessageName): \(error)")
        }
    }

    /// The trailer frame's `name: value` lines.
    private static func trailerLines(_ block: ByteBuffer) -> [(String, String)] {
        String(buffer: block).split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }).compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }
}
