import Foundation
import NIOCore
import SwiftProtobuf

/// How messages travel: proto3 JSON or binary protobuf.
public enum ConnectCodec: String, Sendable, CaseIterable {
    case json
    case proto

    /// The unary Content-Type for this codec.
    public var contentType: String { "application/\(rawValue)" }

    /// The codec of a unary Content-Type (`application/json; charset=utf-8` included), or `nil`.
    public init?(contentType: String) {
        // What clients send nearly always, matched without splitting or lower-casing.
        switch contentType {
        case "application/json": self = .json; return
        case "application/proto": self = .proto; return
        default: break
        }
        let essence = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        switch essence {
        case "application/json": self = .json
        case "application/proto": self = .proto
        default: return nil
        }
    }

    func encode<M: SwiftProtobuf.Message>(_ message: M) throws -> ByteBuffer {
        switch self {
        case .json: return ByteBuffer(bytes: try message.jsonUTF8Bytes() as [UInt8])
        case .proto: return ByteBuffer(bytes: try message.serializedBytes() as [UInt8])
        }
    }

    func decode<M: SwiftProtobuf.Message>(_ type: M.Type, from buffer: ByteBuffer) throws -> M {
        let bytes = buffer.readableBytesView
        switch self {
        case .json:
            var options = JSONDecodingOptions()
            options.ignoreUnknownFields = true
            return try M(jsonUTF8Bytes: Array(bytes), options: options)
        case .proto:
            return try M(serializedBytes: Array(bytes))
        }
    }
}
