import ConnectRPC
import Foundation
import Hummingbird
import Protos

// Benchmark server for bench/connect.sh: the same greeting served two ways in one process,
// as a Connect unary RPC (JSON) and as a plain Hummingbird JSON route, so wrk can compare them.

struct BenchGreeter: Greeter_V1_GreeterServiceHandler {
    func greet(_ request: Greeter_V1_GreetRequest, context: ConnectContext) async throws -> Greeter_V1_GreetResponse {
        var response = Greeter_V1_GreetResponse()
        response.message = "Hello \(request.name.isEmpty ? "World" : request.name)!"
        response.externalStatus = 200
        response.externalBodyLength = 42
        return response
    }
}

struct PlainRequest: Decodable { var name: String }
struct PlainResponse: ResponseEncodable {
    var message: String
    var externalStatus: Int
    var externalBodyLength: Int
}

let port = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 8099
let router = Router()
BenchGreeter().registerConnect(on: router)
router.post("/plain/greet") { request, context -> PlainResponse in
    let input = try await request.decode(as: PlainRequest.self, context: context)
    return PlainResponse(message: "Hello \(input.name.isEmpty ? "World" : input.name)!", externalStatus: 200, externalBodyLength: 42)
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
