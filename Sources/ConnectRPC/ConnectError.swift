import Foundation
import HTTPTypes

/// An RPC failure with a Connect code: thrown by handlers, returned to clients.
public struct ConnectError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ConnectCode
    public var message: String
    /// Error details as sent on the wire (`type` + base64 `value`), passed through unchanged.
    public var details: [Detail]
    /// Response headers that came with the error (client side), or to send with it (server side).
    public var metadata: HTTPFields

    public init(_ code: ConnectCode, _ message: String = "", details: [Detail] = [], metadata: HTTPFields = [:]) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
    }

    /// One `details` entry: a protobuf Any, as Connect's JSON error format carries it.
    public struct Detail: Sendable, Codable, Equatable {
        public var type: String
        /// Base64 of the message bytes (unpadded on the wire; both are accepted).
        public var value: String

        public init(type: String, value: String) {
            self.type = type
            self.value = value
        }
    }

    public var description: String { message.isEmpty ? code.rawValue : "\(code.rawValue): \(message)" }

    /// The JSON body of an error response.
    struct WireFormat: Codable {
        var code: String
        var message: String?
        var details: [Detail]?
    }

    func jsonBody() -> Data {
        let wire = WireFormat(code: code.rawValue, message: message.isEmpty ? nil : message, details: details.isEmpty ? nil : details)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(wire)) ?? Data(#"{"code":"internal"}"#.utf8)
    }

    /// Decodes a Connect JSON error body, or `nil` when it is not one.
    static func decode(jsonBody data: Data) -> ConnectError? {
        guard let wire = try? JSONDecoder().decode(WireFormat.self, from: data),
              let code = ConnectCode(rawValue: wire.code) else { return nil }
        return ConnectError(code, wire.message ?? "", details: wire.details ?? [])
    }
}
