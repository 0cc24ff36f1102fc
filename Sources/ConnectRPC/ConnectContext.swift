import HTTPTypes
import Logging
import NIOConcurrencyHelpers

/// What a handler knows about the call besides the message: request headers (e.g. `X-User-Id`
/// set by the edge), the deadline from `Connect-Timeout-Ms`, a logger, and response metadata.
public struct ConnectContext: Sendable {
    public let requestHeaders: HTTPFields
    /// When the client stops waiting; the runtime answers deadline_exceeded at this instant.
    public let deadline: ContinuousClock.Instant?
    public let logger: Logger
    /// `/package.Service/Method`.
    public let procedure: String
    private let metadata: NIOLockedValueBox<(headers: HTTPFields, trailers: HTTPFields)>

    public init(procedure: String, requestHeaders: HTTPFields, deadline: ContinuousClock.Instant?, logger: Logger) {
        self.procedure = procedure
        self.requestHeaders = requestHeaders
        self.deadline = deadline
        self.logger = logger
        self.metadata = NIOLockedValueBox(([:], [:]))
    }

    /// Adds a response header.
    public func addResponseHeader(_ name: HTTPField.Name, _ value: String) {
        metadata.withLockedValue { $0.headers.append(HTTPField(name: name, value: value)) }
    }

    /// Adds a response trailer (gRPC: an HTTP trailer; gRPC-Web: in the trailer frame; Connect
    /// unary: a `trailer-` header).
    public func addResponseTrailer(_ name: String, _ value: String) {
        guard let field = HTTPField.Name(name) else { return }
        metadata.withLockedValue { $0.trailers.append(HTTPField(name: field, value: value)) }
    }

    var responseHeaders: HTTPFields { metadata.withLockedValue { $0.headers } }
    var responseTrailers: HTTPFields { metadata.withLockedValue { $0.trailers } }

    /// Headers and trailers as one Connect unary response carries them (trailers prefixed).
    var responseMetadata: HTTPFields {
        metadata.withLockedValue { metadata in
            var fields = metadata.headers
            for trailer in metadata.trailers {
                if let name = HTTPField.Name("trailer-" + trailer.name.canonicalName) { fields.append(HTTPField(name: name, value: trailer.value)) }
            }
            return fields
        }
    }

    /// Time left before the deadline, if there is one.
    public var timeRemaining: Duration? {
        deadline.map { $0 - ContinuousClock.now }
    }
}

extension HTTPField.Name {
    static let connectProtocolVersion = HTTPField.Name("Connect-Protocol-Version")!
    static let connectTimeoutMs = HTTPField.Name("Connect-Timeout-Ms")!
    static let acceptPost = HTTPField.Name("Accept-Post")!
}

extension HTTPFields {
    static func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
        var result = lhs
        result.append(contentsOf: rhs)
        return result
    }
}
