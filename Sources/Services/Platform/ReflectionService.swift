import ConnectRPC
import Foundation
import Protos

/// gRPC server reflection on every service port, v1 and v1alpha (the same protocol under two
/// package names; grpcurl 1.8 and grpcio-reflection speak v1alpha): lists the services this
/// process registered and hands out their proto files, with every file they import, from the
/// descriptors the generator embeds. Reflection is a bidirectional stream, so it needs HTTP/2
/// (h2c), which is what gRPC clients speak.
struct ReflectionService: Grpc_Reflection_V1_ServerReflectionHandler {
    typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    func serverReflectionInfo(_ requests: RequestStream<Request>, context: ConnectContext, stream: ServerStream<Response>) async throws {
        for try await request in requests { try await stream.send(Self.answer(request)) }
    }

    /// One answer; what cannot be found is an `error_response` (the stream goes on), as in grpc-go.
    static func answer(_ request: Request) -> Response {
        var response = Response()
        response.validHost = request.host
        response.originalRequest = request
        func files(_ found: [Data]?, missing: String) {
            if let found {
                response.fileDescriptorResponse = .with { $0.fileDescriptorProto = found }
            } else {
                response.errorResponse = .with {
                    $0.errorCode = Int32(GRPCWire.status(of: .notFound))
                    $0.errorMessage = missing
                }
            }
        }
        switch request.messageRequest {
        case .listServices:
            response.listServicesResponse = .with {
                $0.service = ConnectServices.registered.sorted().map { name in .with { $0.name = name } }
            }
        case .fileByFilename(let name):
            files(ConnectServices.fileDescriptors(named: name), missing: "file \"\(name)\" not found")
        case .fileContainingSymbol(let symbol):
            files(ConnectServices.fileDescriptors(containingSymbol: symbol), missing: "symbol \"\(symbol)\" not found")
        case .fileContainingExtension(let extensionRequest):
            files(nil, missing: "extension \(extensionRequest.extensionNumber) of \"\(extensionRequest.containingType)\" not found (no extensions are registered)")
        case .allExtensionNumbersOfType(let type):
            if ConnectServices.knowsSymbol(type) {
                response.allExtensionNumbersResponse = .with { $0.baseTypeName = type }
            } else {
                files(nil, missing: "type \"\(type)\" not found")
            }
        case nil:
            response.errorResponse = .with {
                $0.errorCode = Int32(GRPCWire.status(of: .invalidArgument))
                $0.errorMessage = "the request names no question (file_by_filename, file_containing_symbol, list_services …)"
            }
        }
        return response
    }
}

/// v1alpha: the same messages on the wire, so each is re-read as its v1 twin and answered once.
struct ReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflectionHandler {
    func serverReflectionInfo(_ requests: RequestStream<Grpc_Reflection_V1alpha_ServerReflectionRequest>, context: ConnectContext,
                              stream: ServerStream<Grpc_Reflection_V1alpha_ServerReflectionResponse>) async throws {
        for try await request in requests {
            let v1 = try ReflectionService.Request(serializedBytes: try request.serializedBytes() as [UInt8])
            let answer = ReflectionService.answer(v1)
            try await stream.send(try Grpc_Reflection_V1alpha_ServerReflectionResponse(serializedBytes: try answer.serializedBytes() as [UInt8]))
        }
    }
}
