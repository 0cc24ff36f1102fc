import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import SwiftProtobuf

/// Where a streaming handler sends its response messages, one at a time (like connect-go's
/// `ServerStream.Send`, it is not for concurrent use: await each send). A send after the call
/// ended (deadline, cancellation, the client went away) throws ``ConnectError`` `canceled`.
public struct ServerStream<Message: SwiftProtobuf.Message>: Sendable {
    private let sendMessage: @Sendable (Message) async throws -> Void

    init(_ send: @escaping @Sendable (Message) async throws -> Void) {
        sendMessage = send
    }

    /// Sends one message to the client.
    public func send(_ message: Message) async throws {
        try await sendMessage(message)
    }
}

/// The messages a client sends on a client- or bidirectional-streaming call, decoded as they
/// arrive (`for try await message in requests`). Iterate it once. Each message is checked
/// against the size limit before its bytes are buffered and again after decompression; a
/// malformed or oversized message, or a client that went away, ends the iteration with a
/// ``ConnectError`` the call then ends with.
public struct RequestStream<Message: SwiftProtobuf.Message>: AsyncSequence, Sendable {
    public typealias Element = Message

    private let body: RequestBody
    private let codec: ConnectCodec
    private let compressed: Bool
    private let base64: Bool
    private let limit: Int

    init(body: RequestBody, codec: ConnectCodec, compressed: Bool, base64: Bool, limit: Int) {
        self.body = body
        self.codec = codec
        self.compressed = compressed
        self.base64 = base64
        self.limit = limit
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(body: body.makeAsyncIterator(), codec: codec, compressed: compressed, base64: base64 ? Base64Chunks() : nil, limit: limit)
    }

    /// The one message of a stream that must carry exactly one (a server-streaming request).
    func onlyMessage() async throws -> Message {
        var iterator = makeAsyncIterator()
        guard let message = try await iterator.next() else { throw ConnectError(.invalidArgument, "the request has no message (a server stream takes one)") }
        guard try await iterator.next() == nil else { throw ConnectError(.invalidArgument, "the request has more than one message (a server stream takes one)") }
        return message
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private var body: RequestBody.AsyncIterator
        private var reader: EnvelopeReader
        private let codec: ConnectCodec
        private let compressed: Bool
        private var base64: Base64Chunks?
        private let limit: Int
        private var bodyEnded = false

        init(body: RequestBody.AsyncIterator, codec: ConnectCodec, compressed: Bool, base64: Base64Chunks?, limit: Int) {
            self.body = body
            self.reader = EnvelopeReader(maxMessageBytes: limit)
            self.codec = codec
            self.compressed = compressed
            self.base64 = base64
            self.limit = limit
        }

        public mutating func next() async throws -> Message? {
            while true {
                if let envelope = try nextEnvelope() { return try decode(envelope) }
                if bodyEnded {
                    do { try reader.finish() } catch let failure as EnvelopeReader.Failure { throw Self.connectError(failure) }
                    if let base64, !base64.isEmpty { throw ConnectError(.invalidArgument, "grpc-web-text request ends inside a base64 group") }
                    return nil
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await body.next()
                } catch {
                    // The client went away (reset the stream, closed the connection) or the call was cancelled.
                    throw ConnectError(.canceled, "the request stream ended abnormally: the client went away")
                }
                guard var chunk else {
                    bodyEnded = true
                    continue
                }
                if base64 != nil {
                    guard let decoded = base64?.decode(&chunk) else { throw ConnectError(.invalidArgument, "grpc-web-text request body is not base64") }
                    reader.append(decoded)
                } else {
                    reader.append(chunk)
                }
            }
        }

        private mutating func nextEnvelope() throws -> Envelope? {
            do { return try reader.next() } catch let failure as EnvelopeReader.Failure { throw Self.connectError(failure) }
        }

        private func decode(_ envelope: Envelope) throws -> Message {
            guard envelope.flags.subtracting(.compressed).isEmpty else {
                throw ConnectError(.invalidArgument, "request message has flags 0x\(String(envelope.flags.rawValue, radix: 16)): only the compressed flag is allowed from a client")
            }
            let payload = try envelope.uncompressedPayload(gzipNamed: compressed, limit: limit, what: "a request message", corrupt: .invalidArgument)
            do {
                return try codec.decode(Message.self, from: payload)
            } catch {
                throw ConnectError(.invalidArgument, "cannot decode \(Message.protoMessageName) as \(codec.rawValue): \(error)")
            }
        }

        private static func connectError(_ failure: EnvelopeReader.Failure) -> ConnectError {
            switch failure {
            case .messageTooLarge: ConnectError(.resourceExhausted, "request \(failure)")
            case .truncated: ConnectError(.invalidArgument, "request stream: \(failure)")
            }
        }
    }
}

/// Decodes base64 that arrives in arbitrary chunks (gRPC-Web text): whole 4-character groups as
/// they complete, the rest kept for the next chunk. Each group may carry its own padding, since
/// every message is encoded on its own.
struct Base64Chunks: Sendable {
    private var pending: [UInt8] = []

    var isEmpty: Bool { pending.isEmpty }

    /// The bytes of the complete groups so far, or nil when the text is not base64.
    mutating func decode(_ chunk: inout ByteBuffer) -> ByteBuffer? {
        for byte in chunk.readableBytesView where !(byte == 0x0A || byte == 0x0D || byte == 0x20) { pending.append(byte) }
        let whole = pending.count / 4 * 4
        guard whole > 0 else { return ByteBuffer() }
        var output = ByteBuffer()
        var start = 0
        // Padding may end a group in the middle of the text: decode up to and including it.
        while start < whole {
            var end = start
            while end < whole {
                end += 4
                if pending[end - 1] == UInt8(ascii: "=") { break }
            }
            guard let data = Data(base64Encoded: Data(pending[start..<end])) else { return nil }
            output.writeBytes(data)
            start = end
        }
        pending.removeFirst(whole)
        return output
    }
}

