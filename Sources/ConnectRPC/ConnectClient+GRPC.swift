import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP1
import SwiftProtobuf

/// gRPC over h2c (`ConnectClient(…, wire: .grpc)`): unary and all three streaming shapes on one
/// shared HTTP/2 connection per server (``H2CConnections``); the status from the HTTP/2 trailers.
extension ConnectClient {
    /// Calls a bidirectional-streaming `procedure`: sends `requests` as they are produced while the
    /// answers arrive. gRPC over h2c only (HTTP/1.1 cannot carry it): other wires throw unimplemented.
    public func bidiStream<Requests: AsyncSequence & Sendable, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        _ requests: Requests,
        as output: Output.Type = Output.self,
        headers: HTTPHeaders? = nil,
        timeout: Duration? = nil
    ) -> AsyncThrowingStream<Output, any Error> where Requests.Element: SwiftProtobuf.Message {
        guard wire == .grpc else {
            return AsyncThrowingStream { $0.finish(throwing: ConnectError(.unimplemented, "\(procedure) is bidirectional: it needs gRPC over h2c (ConnectClient wire .grpc)")) }
        }
        return grpcStream(procedure, shape: .bidiStream, frames: encodedFrames(requests), headers: headers, timeout: timeout, as: Output.self)
    }

    func encodedFrames<Requests: AsyncSequence & Sendable>(_ requests: Requests) -> EncodedFrames<Requests> where Requests.Element: SwiftProtobuf.Message {
        EncodedFrames(base: requests, client: self)
    }

    func grpcFrame(_ payload: ByteBuffer) throws -> ByteBuffer {
        if let minimum = compressionMinBytes, payload.readableBytes >= minimum {
            return Envelope(flags: .compressed, payload: try ConnectCompression.gzip(payload)).encoded()
        }
        return Envelope(payload: payload).encoded()
    }

    func grpcUnary<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String, _ message: Input, as output: Output.Type, headers: HTTPHeaders?, timeout: Duration?
    ) async throws -> Response<Output> {
        let frame = try grpcFrame(codec.encode(message))
        let collected = NIOLockedMessages()
        let effectiveTimeout = timeout ?? self.timeout
        let call = try grpcCall(procedure, headers: headers, timeout: effectiveTimeout)
        let responseHeaders = try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: .unary, wire: .grpc), headers: call.1) { headers in
            try await Self.withOptionalTimeout(effectiveTimeout, procedure) {
                try await call.0(headers).run(sending: AsyncStream<ByteBuffer> { $0.yield(frame); $0.finish() }) { collected.append($0) }
            }
        }
        let messages = collected.all
        guard messages.count == 1, let only = messages.first else {
            throw ConnectError(.unimplemented, "\(procedure) answered a unary call with \(messages.count) messages")
        }
        do {
            return Response(message: try codec.decode(Output.self, from: only), headers: HTTPHeaders(responseHeaders.map { ($0.name, $0.value) }))
        } catch {
            throw ConnectError(.internal, "cannot decode the response of \(procedure) as \(Output.protoMessageName): \(error)")
        }
    }

    func grpcStream<Frames: AsyncSequence & Sendable, Output: SwiftProtobuf.Message>(
        _ procedure: String, shape: ConnectCallInfo.Shape, frames: Frames, headers: HTTPHeaders?, timeout: Duration?, as output: Output.Type
    ) -> AsyncThrowingStream<Output, any Error> where Frames.Element == ByteBuffer {
        let (stream, continuation) = AsyncThrowingStream<Output, any Error>.makeStream()
        let effectiveTimeout = timeout ?? self.timeout
        let (codec, interceptors, server) = (codec, interceptors, baseURL)
        let task = Task {
            do {
                let call = try grpcCall(procedure, headers: headers, timeout: effectiveTimeout)
                _ = try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: shape, wire: .grpc), headers: call.1, server: server) { headers in
                    try await Self.withOptionalTimeout(effectiveTimeout, procedure) {
                        try await call.0(headers).run(sending: frames) { bytes in
                            do {
                                continuation.yield(try codec.decode(Output.self, from: bytes))
                            } catch {
                                throw ConnectError(.internal, "cannot decode a message from \(procedure) as \(Output.protoMessageName): \(error)")
                            }
                        }
                    }
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish(throwing: ConnectError(.canceled, "the call to \(procedure) was canceled"))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The call for `procedure` (given the headers an interceptor passes on) and its initial headers.
    private func grpcCall(_ procedure: String, headers: HTTPHeaders?, timeout: Duration?) throws -> (@Sendable (HTTPHeaders) -> GRPCStreamCall, HTTPHeaders) {
        guard let url = URL(string: baseURL), url.scheme?.lowercased() == "http", let host = url.host, !host.isEmpty else {
            throw ConnectError(.unimplemented, "gRPC over h2c needs an http:// base URL, got \(baseURL)")
        }
        let port = url.port ?? 80
        let authority = url.port.map { "\(host):\($0)" } ?? host
        let path = (url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path) + procedure
        var initial = Self.applicationHeaders(headers)
        initial.replaceOrAdd(name: "content-type", value: "application/grpc+\(codec.rawValue)")
        initial.replaceOrAdd(name: "grpc-accept-encoding", value: "gzip")
        if compressionMinBytes != nil { initial.replaceOrAdd(name: "grpc-encoding", value: "gzip") }
        if let timeout { initial.replaceOrAdd(name: "grpc-timeout", value: GRPCWire.timeoutHeader(timeout)) }
        let limit = maxResponseBytes
        let make: @Sendable (HTTPHeaders) -> GRPCStreamCall = { headers in
            var block = HPACKHeaders([(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority), ("te", "trailers")])
            for header in headers { block.add(name: header.name.lowercased(), value: header.value) }
            return GRPCStreamCall(host: host, port: port, authority: authority, path: path, headers: block, maxMessageBytes: limit)
        }
        return (make, initial)
    }

    static func withOptionalTimeout<T: Sendable>(_ timeout: Duration?, _ procedure: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard let timeout else { return try await body() }
        return try await withTimeout(timeout, body) { ConnectError(.deadlineExceeded, "\(procedure) did not finish within \(timeout)") }
    }
}

/// Messages collected from a callback (the unary answer).
final class NIOLockedMessages: Sendable {
    private let box = NIOLockedValueBox<[ByteBuffer]>([])
    func append(_ message: ByteBuffer) { box.withLockedValue { $0.append(message) } }
    var all: [ByteBuffer] { box.withLockedValue { $0 } }
}

/// Request messages framed for gRPC as they are produced.
struct EncodedFrames<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element: SwiftProtobuf.Message {
    typealias Element = ByteBuffer
    let base: Base
    let client: ConnectClient

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let client: ConnectClient

        mutating func next() async throws -> ByteBuffer? {
            guard let message = try await base.next() else { return nil }
            return try client.grpcFrame(client.codec.encode(message))
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), client: client) }
}
