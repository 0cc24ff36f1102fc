import CompressNIO
import NIOCore

/// gzip both ways (CompressNIO does the deflating).
enum ConnectCompression {
    /// A request's encoding: `gzip`, or nothing for absent / `identity`.
    static func isGzip(_ encoding: String?) throws -> Bool {
        guard let encoding = encoding?.trimmingCharacters(in: .whitespaces).lowercased(), !encoding.isEmpty, encoding != "identity" else {
            return false
        }
        guard encoding == "gzip" else {
            throw ConnectError(.unimplemented, "unsupported compression \"\(encoding)\": supported: gzip, identity")
        }
        return true
    }

    static func gzip(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip())
    }

    /// Inflates `buffer` (`what`: "request message" or "response of …"), refusing to grow past
    /// `limit` bytes (a gzip bomb is resource_exhausted). Corrupt gzip is the sender's fault:
    /// invalid_argument for a request, internal for a response (the caller's request was fine).
    static func gunzip(_ buffer: ByteBuffer, limit: Int, what: String, corrupt: ConnectCode = .invalidArgument) throws -> ByteBuffer {
        var input = buffer
        do {
            return try input.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw ConnectError(.resourceExhausted, "\(what) larger than \(limit) bytes after decompression")
        } catch {
            throw ConnectError(corrupt, "\(what) is not valid gzip: \(error)")
        }
    }
}
