import NIOCore

/// One length-prefixed message, the framing gRPC, gRPC-Web and Connect streaming share: a flags
/// byte, a 4-byte big-endian length, then that many bytes.
public struct Envelope: Sendable, Equatable {
    /// The flags byte.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The payload is compressed with the stream's `*-encoding`.
        public static let compressed = Flags(rawValue: 0x01)
        /// Connect streaming: the last frame, a JSON end-of-stream message.
        public static let endStream = Flags(rawValue: 0x02)
        /// gRPC-Web: the last frame, HTTP/1-style trailers.
        public static let trailers = Flags(rawValue: 0x80)
    }

    public var flags: Flags
    public var payload: ByteBuffer

    public init(flags: Flags = [], payload: ByteBuffer) {
        self.flags = flags
        self.payload = payload
    }

    /// Bytes before each payload.
    public static let headerSize = 5

    /// Appends this envelope's wire form to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeInteger(flags.rawValue)
        buffer.writeInteger(UInt32(payload.readableBytes))
        var payload = payload
        buffer.writeBuffer(&payload)
    }

    /// This envelope's wire form.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: Self.headerSize + payload.readableBytes)
        write(to: &buffer)
        return buffer
    }
}

/// Cuts envelopes out of a byte stream that arrives in arbitrary chunks. A declared length over
/// `maxMessageBytes` is refused before its bytes are buffered (a peer cannot make us hold more).
public struct EnvelopeReader: Sendable {
    /// Why the stream cannot be read on.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// A frame declared more bytes than allowed.
        case messageTooLarge(declared: Int, limit: Int)
        /// The stream ended inside a frame.
        case truncated(missing: Int)

        public var description: String {
            switch self {
            case .messageTooLarge(let declared, let limit): "message of \(declared) bytes is larger than the limit of \(limit)"
            case .truncated(let missing): "the stream ended inside a message (\(missing) bytes missing)"
            }
        }
    }

    public let maxMessageBytes: Int
    private var pending = ByteBuffer()

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Adds bytes as they arrive.
    public mutating func append(_ chunk: ByteBuffer) {
        if pending.readableBytes == 0 {
            pending = chunk
        } else {
            var chunk = chunk
            pending.writeBuffer(&chunk)
        }
    }

    /// The next whole envelope, or `nil` until more bytes arrive.
    public mutating func next() throws -> Envelope? {
        guard let flags = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
              let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self) else { return nil }
        guard Int(length) <= maxMessageBytes else { throw Failure.messageTooLarge(declared: Int(length), limit: maxMessageBytes) }
        guard pending.readableBytes >= Envelope.headerSize + Int(length) else { return nil }
        pending.moveReaderIndex(forwardBy: Envelope.headerSize)
        // A slice: no copy of the payload.
        guard let payload = pending.readSlice(length: Int(length)) else { return nil }
        if pending.readableBytes == 0 { pending = ByteBuffer() }
        return Envelope(flags: Envelope.Flags(rawValue: flags), payload: payload)
    }

    /// Throws when the stream ended with part of a frame unread.
    public func finish() throws {
        guard pending.readableBytes > 0 else { return }
        let declared = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self).map(Int.init) ?? 0
        throw Failure.truncated(missing: Envelope.headerSize + declared - pending.readableBytes)
    }
}

extension Envelope {
    /// The payload as sent, gunzipped when the compressed flag is set. A compressed frame is
    /// accepted only when the stream named gzip (`gzipNamed`); both failures are `corrupt`'s code
    /// (the peer's fault) except the unnamed encoding, which is always `internal`, as in connect-go.
    func uncompressedPayload(gzipNamed: Bool, limit: Int, what: String, corrupt: ConnectCode) throws -> ByteBuffer {
        guard flags.contains(.compressed) else { return payload }
        guard gzipNamed else { throw ConnectError(.internal, "\(what) is marked compressed but no gzip encoding was named") }
        return try ConnectCompression.gunzip(payload, limit: limit, what: what, corrupt: corrupt)
    }
}
