import ConnectRPC
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Protos

// Benchmark server for bench/gen-and-connect.sh and bench/protocols.sh: the same greeting served
// as an RPC (Connect, gRPC and gRPC-Web on one route, HTTP/1.1 and h2c on one port) and as a
// plain Hummingbird JSON route, plus a server stream of N greetings (`/bench.v1.Stream/Count`,
// GreetRequest.name = N) for streaming throughput and memory over long streams.

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
// As `devctl serve` runs the services: Swift Concurrency on NIO's event loops (one per core here),
// so a handler runs on the loop of its connection and its writes meet the channel's writability.
if ProcessInfo.processInfo.environment["BENCH_DISPATCH_EXECUTOR"] == nil {
    EventLoopGlobalExecutor.install()
}
let router = Router()
BenchGreeter().registerConnect(on: router)
router.post("/plain/greet") { request, context -> PlainResponse in
    let input = try await request.decode(as: PlainRequest.self, context: context)
    return PlainResponse(message: "Hello \(input.name.isEmpty ? "World" : input.name)!", externalStatus: 200, externalBodyLength: 42)
}
router.connectServerStream("/bench.v1.Stream/Count", input: Greeter_V1_GreetRequest.self, output: Greeter_V1_GreetResponse.self) { request, _, stream in
    var response = Greeter_V1_GreetResponse()
    response.externalStatus = 200
    for index in 0..<(Int(request.name) ?? 0) {
        response.externalBodyLength = Int32(truncatingIfNeeded: index)
        response.message = "Hello stream!"
        try await stream.send(response)
    }
}
let app = Application(router: router, server: ProcessInfo.processInfo.environment["BENCH_HTTP1_ONLY"] != nil ? .http1() : .http1AndH2C(responder: router.buildResponder()), configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
