import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import HTTPTypes

/// gRPC's transport for the Swift client: HTTP/2 with prior knowledge (h2c), which
/// AsyncHTTPClient does not speak. One connection per `host:port`, shared by every call (each call
/// is a stream on it), made on first use and again after it closed.
actor H2CConnections {
    static let shared = H2CConnections()

    struct Connection: Sendable {
        let channel: any Channel
        let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>
        let goAway: GoAwayWatcher

        /// Open, and the server has not said it takes no new streams.
        var isUsable: Bool { channel.isActive && !goAway.received }
    }

    private var connections: [String: Task<Connection, any Error>] = [:]

    func connection(host: String, port: Int) async throws -> Connection {
        let key = "\(host):\(port)"
        // One connect at a time per server: whoever finds the cached one dead replaces it, and
        // callers that waited meanwhile use the replacement.
        while let pending = connections[key] {
            if let connection = try? await pending.value, connection.isUsable { return connection }
            if connections[key] == pending {
                connections[key] = nil
                // Draining connections close once their last stream ends (the server closes them).
                break
            }
        }
        let task = Task { try await Self.connect(host: host, port: port) }
        connections[key] = task
        do {
            return try await task.value
        } catch {
            if connections[key] == task { connections[key] = nil }
            throw error
        }
    }

    private static func connect(host: String, port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    let goAway = GoAwayWatcher()
                    try channel.pipeline.syncOperations.addHandler(goAway)
                    return Connection(channel: channel, multiplexer: multiplexer, goAway: goAway)
                }
            }
    }
}

/// Notes a server's GOAWAY (it takes no new streams: a deploy, a graceful shutdown), so the next
/// call opens a new connection instead of a stream the server would refuse.
final class GoAwayWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let seen = NIOLockedValueBox(false)
    var received: Bool { seen.withLockedValue { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { seen.withLockedValue { $0 = true } }
        context.fireChannelRead(data)
    }
}

/// One gRPC call on an h2c stream: request headers, the request frames as they come, then the
/// response's messages to `onMessage` as they arrive, and its status. Throws ``ConnectError``.
struct GRPCStreamCall: Sendable {
    let host: String
    let port: Int
    let authority: String
    let path: String
    let headers: HPACKHeaders
    let maxMessageBytes: Int

    /// The response headers and trailers (merged, trailers last) once the call ended with OK.
    func run<Frames: AsyncSequence & Sendable>(
        sending frames: Frames, onMessage: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws -> HPACKHeaders where Frames.Element == ByteBuffer {
        let connection: H2CConnections.Connection
        do {
            connection = try await H2CConnections.shared.connection(host: host, port: port)
        } catch {
            throw ConnectError(.unavailable, "cannot reach \(authority) over h2c: \(error)")
        }
        let stream: NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>
        do {
            stream = try await connection.multiplexer.openStream { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>(wrappingChannelSynchronously: channel)
                }
            }
        } catch {
            throw ConnectError(.unavailable, "cannot open a stream to \(authority): \(error)")
        }
        let (path, requestHeaders, limit) = (path, headers, maxMessageBytes)
        // Why the request side stopped, if it failed (the caller's sequence threw, encoding failed).
        let requestFailure = NIOLockedValueBox<(any Error)?>(nil)
        return try await stream.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await outbound.write(.headers(.init(headers: requestHeaders)))
                        for try await frame in frames { try await outbound.write(.data(.init(data: .byteBuffer(frame)))) }
                        try await outbound.write(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
                    } catch {
                        // The server would wait for the rest forever: reset the stream, which also
                        // ends the reading side below.
                        requestFailure.withLockedValue { $0 = error }
                        try? await outbound.write(.rstStream(.cancel))
                    }
                }
                var responseHeaders: HPACKHeaders?
                var trailers = HPACKHeaders()
                var reader = EnvelopeReader(maxMessageBytes: limit)
                var compressed = false
                do {
                    reading: for try await payload in inbound {
                        switch payload {
                        case .headers(let block):
                            if responseHeaders == nil {
                                responseHeaders = block.headers
                                compressed = block.headers.first(name: "grpc-encoding")?.lowercased() == "gzip"
                                guard let status = block.headers.first(name: ":status"), status == "200" else {
                                    let code = Int(block.headers.first(name: ":status") ?? "") ?? 0
                                    throw ConnectError(ConnectCode(inferringFrom: code), "HTTP \(code) from \(path)")
                                }
                                if block.endStream {
                                    trailers = block.headers  // trailers-only
                                    break reading
                                }
                            } else {
                                // The end: a server may reset the stream right after (Go's
                                // net/http2 sends NO_ERROR when the client is still sending).
                                trailers = block.headers
                                break reading
                            }
                        case .data(let data):
                            guard case .byteBuffer(let bytes) = data.data else { continue }
                            reader.append(bytes)
                            while let envelope = try reader.next() {
                                try await onMessage(try envelope.uncompressedPayload(gzipNamed: compressed, limit: limit, what: "a message from \(path)", corrupt: .internal))
                            }
                        case .rstStream(let code):
                            if let failure = requestFailure.withLockedValue({ $0 }) { throw Self.requestSideError(failure, path) }
                            throw ConnectError(Self.code(ofReset: code), "\(path): the server reset the stream (\(code))")
                        default:
                            continue
                        }
                    }
                    try reader.finish()
                } catch let failure as EnvelopeReader.Failure {
                    group.cancelAll()
                    if case .messageTooLarge = failure { throw ConnectError(.resourceExhausted, "\(path): \(failure)") }
                    throw ConnectError(.internal, "\(path): \(failure)")
                } catch let error as ConnectError {
                    group.cancelAll()
                    throw error
                } catch {
                    group.cancelAll()
                    if let failure = requestFailure.withLockedValue({ $0 }) { throw Self.requestSideError(failure, path) }
                    if error is CancellationError || Task.isCancelled { throw ConnectError(.canceled, "the call to \(path) was canceled") }
                    throw ConnectError(.unavailable, "the stream to \(path) broke: \(error)")
                }
                if let failure = requestFailure.withLockedValue({ $0 }) { throw Self.requestSideError(failure, path) }
                // The server has answered: whatever the request side still had to send is moot.
                group.cancelAll()
                guard let statusText = trailers.first(name: "grpc-status"), let status = Int(statusText) else {
                    throw ConnectError(.internal, "\(path) ended without a grpc-status")
                }
                if let code = GRPCWire.code(ofStatus: status) {
                    let details = trailers.first(name: "grpc-status-details-bin").map(GRPCWire.details(fromStatusDetails:)) ?? []
                    var metadata = HTTPFieldsFromHPACK.application((responseHeaders ?? [:]), trailers)
                    metadata = metadata.filter { !$0.name.rawName.hasPrefix("grpc-") }
                    throw ConnectError(code, GRPCWire.percentDecode(trailers.first(name: "grpc-message") ?? ""), details: details, metadata: metadata)
                }
                var merged = responseHeaders ?? [:]
                for (name, value, _) in trailers where !name.hasPrefix(":") { merged.add(name: "trailer-" + name, value: value) }
                return merged
            }
        }
    }
}

extension GRPCStreamCall {
    /// The request side's failure as the call's outcome: cancellation stays cancellation, a
    /// ConnectError keeps its code, anything else (the caller's sequence threw) is canceled.
    static func requestSideError(_ error: any Error, _ path: String) -> ConnectError {
        if let error = error as? ConnectError { return error }
        return ConnectError(.canceled, "the request stream to \(path) failed: \(error)")
    }

    /// RST_STREAM codes as gRPC statuses (PROTOCOL-HTTP2.md, "Errors").
    static func code(ofReset reset: NIOHTTP2.HTTP2ErrorCode) -> ConnectCode {
        switch reset {
        case .refusedStream: .unavailable
        case .cancel: .canceled
        case .enhanceYourCalm: .resourceExhausted
        case .inadequateSecurity: .permissionDenied
        default: .internal
        }
    }
}

/// Application metadata of HTTP/2 header blocks, as the runtime's `HTTPFields`.
enum HTTPFieldsFromHPACK {
    static func application(_ blocks: HPACKHeaders...) -> HTTPFields {
        var fields = HTTPFields()
        for block in blocks {
            for (name, value, _) in block where !name.hasPrefix(":") && ConnectMetadata.isApplicationHeader(name) {
                if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
            }
        }
        return fields
    }
}
