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

    /// Whether an Accept-Encoding list includes gzip.
    static func accepts(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { $0.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "gzip" }
    }

    static func gzip(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip())
    }

    /// Inflates `buffer`, refusing to grow past `limit` bytes (a gzip bomb is resource_exhausted).
    static func gunzip(_ buffer: ByteBuffer, limit: Int) throws -> ByteBuffer {
        var input = buffer
        do {
            return try input.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw ConnectError(.resourceExhausted, "request message larger than \(limit) bytes after decompression")
        } catch {
            throw ConnectError(.invalidArgument, "body is not valid gzip: \(error)")
        }
    }
}
