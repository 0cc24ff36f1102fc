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
    }

    private var connections: [String: Task<Connection, any Error>] = [:]

    func connection(host: String, port: Int) async throws -> Connection {
        let key = "\(host):\(port)"
        if let pending = connections[key] {
            if let connection = try? await pending.value, connection.channel.isActive { return connection }
            if connections[key] == pending { connections[key] = nil }
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
                    return Connection(channel: channel, multiplexer: multiplexer)
                }
            }
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
        return try await stream.executeThenClose { inbound, outbound in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await outbound.write(.headers(.init(headers: requestHeaders)))
                    for try await frame in frames { try await outbound.write(.data(.init(data: .byteBuffer(frame)))) }
                    try await outbound.write(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
                }
                var responseHeaders: HPACKHeaders?
                var trailers = HPACKHeaders()
                var reader = EnvelopeReader(maxMessageBytes: limit)
                var compressed = false
                do {
                    for try await payload in inbound {
                        switch payload {
                        case .headers(let block):
                            if responseHeaders == nil {
                                responseHeaders = block.headers
                                compressed = block.headers.first(name: "grpc-encoding")?.lowercased() == "gzip"
                                guard let status = block.headers.first(name: ":status"), status == "200" else {
                                    let code = Int(block.headers.first(name: ":status") ?? "") ?? 0
                                    throw ConnectError(ConnectCode(inferringFrom: code), "HTTP \(code) from \(path)")
                                }
                                if block.endStream { trailers = block.headers }  // trailers-only
                            } else {
                                trailers = block.headers
                            }
                        case .data(let data):
                            guard case .byteBuffer(let bytes) = data.data else { continue }
                            reader.append(bytes)
                            while let envelope = try reader.next() {
                                try await onMessage(try envelope.uncompressedPayload(gzipNamed: compressed, limit: limit, what: "a message from \(path)", corrupt: .internal))
                            }
                        case .rstStream(let code):
                            throw ConnectError(code == .cancel ? .canceled : .unavailable, "\(path): the server reset the stream (\(code))")
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
                    throw ConnectError(.unavailable, "the stream to \(path) broke: \(error)")
                }
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
