import HTTPTypes
import NIOCore

/// Serialises the responses of one HTTP/1.1 server connection, one at a time, straight from
/// `HTTPResponse` into bytes, framing the body the way NIO's `HTTPResponseEncoder` does:
///
/// - a `content-length` the handler set is kept and the body sent as is; otherwise a response
///   that may have a body is sent `transfer-encoding: chunked` (any other transfer-encoding
///   field is replaced);
/// - 1xx, 204 and 304 responses carry no body and no framing fields;
/// - a response to `HEAD` keeps its framing fields (what a GET would have said) but no body;
/// - trailers are sent with a chunked body and dropped otherwise.
///
/// Bytes collect in one pending buffer — the head, then body parts up to ``copyLimit`` — so a
/// unary response leaves in a single write; larger parts are handed over as they are.
struct HTTP1ResponseEncoder {
    /// Body parts up to this size are copied after the head; larger ones are not copied.
    static let copyLimit = 16 * 1024

    /// The answer to bytes that are not HTTP/1.1 (what NIO's error handler sent).
    static let badRequest = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")

    /// A head has been written and its end has not.
    private(set) var isInProgress = false
    private var chunked = false
    private var bodyAllowed = true
    private var pending: ByteBuffer?

    /// Bytes waiting to be handed to the channel.
    var pendingBytes: Int { pending?.readableBytes ?? 0 }

    /// Serialises the head. `bodyAllowed` is false for a response to `HEAD`.
    mutating func start(_ head: HTTPResponse, bodyAllowed requestAllowsBody: Bool, allocator: ByteBufferAllocator) {
        let code = head.status.code
        let statusAllowsBody = code >= 200 && code != 204 && code != 304
        let hasLength = statusAllowsBody && head.headerFields[.contentLength] != nil
        let addsChunked = statusAllowsBody && !hasLength
        bodyAllowed = statusAllowsBody && requestAllowsBody
        chunked = addsChunked && requestAllowsBody
        isInProgress = true

        var buffer = pending ?? allocator.buffer(capacity: 512)
        buffer.writeStaticString("HTTP/1.1 ")
        // Status codes are three digits (HTTPTypes enforces 100...999).
        buffer.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code / 100))
        buffer.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code / 10 % 10))
        buffer.writeInteger(UInt8(truncatingIfNeeded: 0x30 + code % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(head.status.reasonPhrase)
        buffer.writeStaticString("\r\n")
        for field in head.headerFields {
            if field.name == .transferEncoding || (field.name == .contentLength && !statusAllowsBody) { continue }
            Self.write(field, into: &buffer)
        }
        if addsChunked { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
        buffer.writeStaticString("\r\n")
        pending = buffer
    }

    /// Appends a body part (framed when chunked). Returns the part itself when it is larger than
    /// ``copyLimit``: the caller writes what is pending, then that part, then calls
    /// ``finishLargePart(allocator:)``.
    mutating func append(body: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        // An empty chunk would end a chunked body early.
        guard bodyAllowed, body.readableBytes > 0 else { return nil }
        var buffer = pending ?? allocator.buffer(capacity: min(body.readableBytes, Self.copyLimit) + 32)
        if chunked {
            buffer.writeString(String(body.readableBytes, radix: 16))
            buffer.writeStaticString("\r\n")
        }
        if body.readableBytes > Self.copyLimit {
            pending = buffer.readableBytes > 0 ? buffer : nil
            return body
        }
        var body = body
        buffer.writeBuffer(&body)
        if chunked { buffer.writeStaticString("\r\n") }
        pending = buffer
        return nil
    }

    /// Closes the chunk of a part written on its own.
    mutating func finishLargePart(allocator: ByteBufferAllocator) {
        guard chunked else { return }
        var buffer = pending ?? allocator.buffer(capacity: 2)
        buffer.writeStaticString("\r\n")
        pending = buffer
    }

    /// Ends the body: the last chunk and the trailers when chunked; nothing otherwise.
    mutating func end(_ trailers: HTTPFields?, allocator: ByteBufferAllocator) {
        if chunked {
            var buffer = pending ?? allocator.buffer(capacity: 64)
            buffer.writeStaticString("0\r\n")
            for field in trailers ?? [:] { Self.write(field, into: &buffer) }
            buffer.writeStaticString("\r\n")
            pending = buffer
        }
        chunked = false
        bodyAllowed = true
        isInProgress = false
    }

    /// `name: value` and its line end, the name as the handler spelled it.
    private static func write(_ field: HTTPField, into buffer: inout ByteBuffer) {
        buffer.writeString(field.name.rawName)
        buffer.writeStaticString(": ")
        buffer.writeString(field.value)
        buffer.writeStaticString("\r\n")
    }

    /// The bytes to hand to the channel now, if any.
    mutating func takePending() -> ByteBuffer? {
        defer { pending = nil }
        return pending
    }
}
