import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import SwiftProtobuf

/// Server- and client-streaming calls over Connect's streaming protocol
/// (`application/connect+proto|json`, HTTP/1.1 through AsyncHTTPClient, whose response and
/// request bodies stream), or over gRPC on h2c when the client's wire is `.grpc` (which also
/// carries bidirectional calls, see `bidiStream`).
extension ConnectClient {
    /// Calls a server-streaming `procedure`: the messages as they arrive; the sequence ends when
    /// the server ends the stream, or throws ``ConnectError`` with the stream's error. Stopping
    /// the iteration (or cancelling its task) cancels the call.
    public func serverStream<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        _ message: Input,
        as output: Output.Type = Output.self,
        headers: HTTPHeaders? = nil,
        timeout: Duration? = nil
    ) -> AsyncThrowingStream<Output, any Error> {
        if wire == .grpc {
            let frame: ByteBuffer
            do {
                frame = try grpcFrame(codec.encode(message))
            } catch {
                return AsyncThrowingStream { $0.finish(throwing: ConnectError(.internal, "cannot encode \(Input.protoMessageName): \(error)")) }
            }
            return grpcStream(procedure, shape: .serverStream, frames: AsyncStream<ByteBuffer> { $0.yield(frame); $0.finish() },
                              headers: headers, timeout: timeout, as: Output.self)
        }
        let body: ByteBuffer
        do {
            body = try envelope(codec.encode(message))
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: ConnectError(.internal, "cannot encode \(Input.protoMessageName): \(error)")) }
        }
        return streamCall(procedure, shape: .serverStream, headers: headers, timeout: timeout, body: .bytes(body), as: Output.self)
    }

    /// Calls a client-streaming `procedure`: sends every message of `requests` as it is produced,
    /// then returns the server's one answer.
    public func clientStream<Requests: AsyncSequence & Sendable, Output: SwiftProtobuf.Message>(
        _ procedure: String,
        _ requests: Requests,
        as output: Output.Type = Output.self,
        headers: HTTPHeaders? = nil,
        timeout: Duration? = nil
    ) async throws -> Output where Requests.Element: SwiftProtobuf.Message {
        let client = self
        let answers = wire == .grpc
            ? grpcStream(procedure, shape: .clientStream, frames: encodedFrames(requests), headers: headers, timeout: timeout, as: Output.self)
            : streamCall(procedure, shape: .clientStream, headers: headers, timeout: timeout,
                         body: .stream(requests.map { message in try client.envelope(client.codec.encode(message)) }, length: .unknown), as: Output.self)
        var answer: Output?
        for try await message in answers {
            guard answer == nil else { throw ConnectError(.unimplemented, "\(procedure) answered a client stream with more than one message") }
            answer = message
        }
        // A cancelled caller's stream just ends: say so, rather than blame the server.
        if Task.isCancelled { throw ConnectError(.canceled, "the call to \(procedure) was canceled") }
        guard let answer else { throw ConnectError(.unimplemented, "\(procedure) ended a client stream without an answer") }
        return answer
    }

    /// One message framed, gzip-compressed when large enough.
    fileprivate func envelope(_ payload: ByteBuffer) throws -> ByteBuffer {
        if let minimum = compressionMinBytes, payload.readableBytes >= minimum {
            return Envelope(flags: .compressed, payload: try ConnectCompression.gzip(payload)).encoded()
        }
        return Envelope(payload: payload).encoded()
    }

    private func streamCall<Output: SwiftProtobuf.Message>(
        _ procedure: String, shape: ConnectCallInfo.Shape, headers: HTTPHeaders?, timeout: Duration?, body: HTTPClientRequest.Body, as output: Output.Type
    ) -> AsyncThrowingStream<Output, any Error> {
        var request = HTTPClientRequest(url: baseURL + procedure)
        request.method = .POST
        request.headers = Self.applicationHeaders(headers)
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/connect+\(codec.rawValue)")
        request.headers.replaceOrAdd(name: "Connect-Protocol-Version", value: "1")
        request.headers.replaceOrAdd(name: "Connect-Accept-Encoding", value: "gzip")
        if compressionMinBytes != nil { request.headers.replaceOrAdd(name: "Connect-Content-Encoding", value: "gzip") }
        let effectiveTimeout = timeout ?? self.timeout
        if let effectiveTimeout {
            request.headers.replaceOrAdd(name: "Connect-Timeout-Ms", value: Self.connectTimeoutMs(effectiveTimeout))
        }
        request.body = body
        let (stream, continuation) = AsyncThrowingStream<Output, any Error>.makeStream()
        let (codec, limit, base, interceptors) = (codec, maxResponseBytes, baseURL, interceptors)
        let call = Task { [request] in
            let receive: @Sendable () async throws -> Void = {
                try await interceptors.run(ConnectCallInfo(procedure: procedure, shape: shape, wire: .connect), headers: request.headers, server: base) { headers in
                    var request = request
                    request.headers = headers
                    let response: HTTPClientResponse
                    do {
                        response = try await ServiceURL.sharedHTTPClient.execute(request, timeout: .hours(24 * 365))
                    } catch is CancellationError {
                        throw ConnectError(.canceled, "the call to \(procedure) was canceled")
                    } catch {
                        throw ConnectError(.unavailable, "cannot reach \(base)\(procedure): \(error)")
                    }
                    guard response.status == .ok else {
                        let payload = try? await response.body.collect(upTo: 64 * 1024)
                        if let payload, var error = ConnectError.decode(jsonBody: Data(payload.readableBytesView)) {
                            error.metadata = Self.applicationMetadata(response.headers)
                            throw error
                        }
                        throw ConnectError(ConnectCode(inferringFrom: Int(response.status.code)), "HTTP \(response.status.code) \(response.status.reasonPhrase) from \(procedure)")
                    }
                    let gzip = response.headers.first(name: "Connect-Content-Encoding")?.lowercased() == "gzip"
                    var reader = EnvelopeReader(maxMessageBytes: limit)
                    do {
                        for try await chunk in response.body {
                            reader.append(chunk)
                            while let frame = try reader.next() {
                                let payload = try frame.uncompressedPayload(gzipNamed: gzip, limit: limit, what: "a message from \(procedure)", corrupt: .internal)
                                if frame.flags.contains(.endStream) {
                                    if let error = Self.endStreamError(payload, headers: response.headers) { throw error }
                                    return
                                }
                                do {
                                    continuation.yield(try codec.decode(Output.self, from: payload))
                                } catch {
                                    throw ConnectError(.internal, "cannot decode a message from \(procedure) as \(Output.protoMessageName): \(error)")
                                }
                            }
                        }
                        try reader.finish()
                    } catch let error as ConnectError {
                        throw error
                    } catch let failure as EnvelopeReader.Failure {
                        if case .messageTooLarge = failure { throw ConnectError(.resourceExhausted, "\(procedure): \(failure)") }
                        throw ConnectError(.internal, "\(procedure): \(failure)")
                    } catch is CancellationError {
                        throw ConnectError(.canceled, "the call to \(procedure) was canceled")
                    } catch {
                        throw ConnectError(.unavailable, "the stream from \(procedure) broke: \(error)")
                    }
                    throw ConnectError(.internal, "the stream from \(procedure) ended without its end-of-stream message")
                }
            }
            do {
                if let effectiveTimeout {
                    try await withTimeout(effectiveTimeout, receive) {
                        ConnectError(.deadlineExceeded, "\(procedure) did not finish its stream within \(effectiveTimeout)")
                    }
                } else {
                    try await receive()
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish(throwing: ConnectError(.canceled, "the call to \(procedure) was canceled"))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in call.cancel() }
        return stream
    }

    /// Connect's end-of-stream JSON: the error it carries (with its metadata), if any.
    private static func endStreamError(_ payload: ByteBuffer, headers: HTTPHeaders) -> ConnectError? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.readableBytesView))) as? [String: Any] else {
            return ConnectError(.internal, "the end-of-stream message is not JSON")
        }
        guard let wire = object["error"] else { return nil }
        guard let data = try? JSONSerialization.data(withJSONObject: wire), var error = ConnectError.decode(jsonBody: data) else {
            return ConnectError(.unknown, "the stream ended with an error this client cannot read: \(String(decoding: payload.readableBytesView, as: UTF8.self).prefix(200))")
        }
        var metadata = applicationMetadata(headers)
        for (name, values) in object["metadata"] as? [String: [String]] ?? [:] {
            guard let field = HTTPField.Name(name) else { continue }
            for value in values { metadata.append(HTTPField(name: field, value: value)) }
        }
        error.metadata = metadata
        return error
    }
}
