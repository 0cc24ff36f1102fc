/// The protocol a request speaks, decided per request from its Content-Type as connect-go does:
/// one route serves Connect, gRPC and gRPC-Web.
enum WireProtocol: Equatable {
    /// `application/json`, `application/proto`.
    case connectUnary(ConnectCodec)
    /// `application/connect+proto`, `application/connect+json`: Connect's streaming format.
    case connectStream(ConnectCodec)
    /// `application/grpc`, `application/grpc+proto`, `application/grpc+json`.
    case grpc(ConnectCodec)
    /// `application/grpc-web[+proto|+json]`, and `application/grpc-web-text[+proto]` (the
    /// whole body base64, for browsers that cannot read binary streams).
    case grpcWeb(ConnectCodec, text: Bool)

    init?(contentType: String?) {
        guard let contentType else { return nil }
        // What clients send nearly always is matched as it is: splitting, trimming and
        // lower-casing every request's Content-Type was ~7 % of a unary call's CPU (perf).
        if let known = Self.exact(contentType) {
            self = known
            return
        }
        let essence = contentType.split(separator: ";").first.map { $0.trimmingSpacesAndTabs().lowercased() } ?? ""
        guard let parsed = Self.exact(essence) else { return nil }
        self = parsed
    }

    /// The protocol of a Content-Type without parameters, in lower case.
    private static func exact(_ essence: some StringProtocol) -> WireProtocol? {
        switch essence {
        case "application/json": .connectUnary(.json)
        case "application/proto": .connectUnary(.proto)
        case "application/connect+proto": .connectStream(.proto)
        case "application/connect+json": .connectStream(.json)
        case "application/grpc", "application/grpc+proto": .grpc(.proto)
        case "application/grpc+json": .grpc(.json)
        case "application/grpc-web", "application/grpc-web+proto": .grpcWeb(.proto, text: false)
        case "application/grpc-web+json": .grpcWeb(.json, text: false)
        case "application/grpc-web-text", "application/grpc-web-text+proto": .grpcWeb(.proto, text: true)
        default: nil
        }
    }

    /// gRPC or gRPC-Web (status in trailers, not in the HTTP status).
    var isGRPCFamily: Bool {
        switch self {
        case .grpc, .grpcWeb: true
        case .connectUnary, .connectStream: false
        }
    }

    /// The message codec.
    var codec: ConnectCodec {
        switch self {
        case .connectUnary(let codec), .connectStream(let codec), .grpc(let codec), .grpcWeb(let codec, _): codec
        }
    }

    /// The response Content-Type (the request's, in canonical spelling).
    var responseContentType: String {
        switch self {
        case .connectUnary(let codec): codec.contentType
        case .connectStream(let codec): "application/connect+\(codec.rawValue)"
        case .grpc(let codec): "application/grpc+\(codec.rawValue)"
        case .grpcWeb(let codec, let text): "application/grpc-web\(text ? "-text" : "")+\(codec.rawValue)"
        }
    }
}
