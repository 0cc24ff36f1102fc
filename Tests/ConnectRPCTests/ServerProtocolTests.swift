import AsyncHTTPClient
import ConnectRPC
import Foundation
import NIOCore
import NIOHTTP1
import Protos
import SwiftProtobuf
import Testing

/// What the server answers to raw HTTP: the protocol's edges, checked byte by byte.
@Suite struct ServerProtocolTests {
    private func send(_ port: Int, _ path: String, method: HTTPMethod = .POST, headers: HTTPHeaders = [:], body: [UInt8] = []) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        let response = try await RawHTTP.send(port, path, method: method, headers: headers, body: body)
        return (response.status, response.headers, String(buffer: response.body))
    }

    @Test func unsupportedContentTypeIs415WithAcceptPost() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "text/plain"], body: Array("hi".utf8))
            #expect(response.status == 415)
            // Every content type the route serves: Connect, gRPC and gRPC-Web.
            let accepted = (response.headers.first(name: "Accept-Post") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(Set(accepted).isSuperset(of: ["application/json", "application/proto", "application/grpc", "application/grpc+json",
                                                   "application/grpc-web+proto", "application/grpc-web-text"]), "\(accepted)")
        }
    }

    @Test func unknownMethodIs404() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Nope", headers: ["Content-Type": "application/json"], body: Array("{}".utf8))
            #expect(response.status == 404)
        }
    }

    @Test func malformedBodyIsInvalidArgument() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/json"], body: Array("{not json".utf8))
            #expect(response.status == 400)
            #expect(response.headers.first(name: "Content-Type") == "application/json")
            #expect(response.body.contains(#""code":"invalid_argument""#))
        }
    }

    @Test func unknownJSONFieldsAreIgnoredAndCharsetAccepted() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json; charset=utf-8", "Connect-Protocol-Version": "1"],
                                          body: Array(#"{"name":"Ada","surprise":1}"#.utf8))
            #expect(response.status == 200)
            #expect(response.body == #"{"message":"Hello Ada!","externalStatus":200}"#)
        }
    }

    @Test func oversizeBodyIsResourceExhausted() async throws {
        try await withGreeterServer(options: ConnectServerOptions(maxRequestBytes: 1024)) { port in
            var request = Greeter_V1_GreetRequest()
            request.name = String(repeating: "a", count: 4096)
            let response = try await send(port, "/greeter.v1.GreeterService/Greet", headers: ["Content-Type": "application/proto"],
                                          body: try request.serializedBytes())
            #expect(response.status == 429)
            #expect(response.body.contains(#""code":"resource_exhausted""#))
        }
    }

    @Test func wrongProtocolVersionIsInvalidArgument() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json", "Connect-Protocol-Version": "2"], body: Array("{}".utf8))
            #expect(response.status == 400)
            #expect(response.body.contains("Connect-Protocol-Version must be 1"))
        }
    }

    @Test func responseMetadataAndTrailersAreHeaders() async throws {
        try await withGreeterServer { port in
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json", "X-User-Id": "u7"], body: Array(#"{"name":"headers"}"#.utf8))
            #expect(response.body == #"{"message":"Hello u7!"}"#)
            #expect(response.headers.first(name: "X-Echo") == "yes")
            #expect(response.headers.first(name: "Trailer-X-Trailer") == "done")
        }
    }

    @Test func getWorksForSideEffectFreeMethodsOnly() async throws {
        try await withGreeterServer { port in
            let json = try await send(port, "/test.v1.EchoService/Echo?connect=v1&encoding=json&message=%7B%22name%22%3A%22Get%22%7D", method: .GET)
            #expect(json.status == 200)
            #expect(json.body == #"{"message":"Hello Get!","externalStatus":200}"#)

            var request = Greeter_V1_GreetRequest()
            request.name = "Bin"
            let base64 = Data(try request.serializedBytes() as [UInt8]).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let binary = try await send(port, "/test.v1.EchoService/Echo?connect=v1&encoding=proto&base64=1&message=\(base64)", method: .GET)
            #expect(binary.status == 200)
            let decoded = try Greeter_V1_GreetResponse(serializedBytes: Array(binary.body.utf8))
            #expect(decoded.message == "Hello Bin!")

            // Greet has side effects: no GET route.
            let refused = try await send(port, "/greeter.v1.GreeterService/Greet?connect=v1&encoding=json&message=%7B%7D", method: .GET)
            #expect(refused.status == 404 || refused.status == 405)
        }
    }

    @Test func deadlineAnswersEvenWhenTheHandlerIgnoresCancellation() async throws {
        try await withGreeterServer { port in
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json", "Connect-Timeout-Ms": "200"], body: Array(#"{"name":"stubborn:20000"}"#.utf8))
            #expect(response.status == 504)
            // Well before the 20 s handler would finish (a wide margin: a loaded CI machine
            // running every suite in parallel took 4 s for the 200 ms deadline).
            #expect(clock.now - start < .seconds(12))
        }
    }

    @Test func getMessagesAreDecodedOnce() async throws {
        try await withGreeterServer { port in
            // {"name":"100%25"} → the name is the literal text 100%25.
            let response = try await send(port, "/test.v1.EchoService/Echo?connect=v1&encoding=json&message=%7B%22name%22%3A%22100%2525%22%7D", method: .GET)
            #expect(response.body == #"{"message":"Hello 100%25!","externalStatus":200}"#)
        }
    }

    @Test func handlerDeadlineComesFromConnectTimeoutMs() async throws {
        try await withGreeterServer { port in
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await send(port, "/greeter.v1.GreeterService/Greet",
                                          headers: ["Content-Type": "application/json", "Connect-Timeout-Ms": "200"], body: Array(#"{"name":"sleep:30000"}"#.utf8))
            #expect(response.status == 504)
            #expect(response.body.contains(#""code":"deadline_exceeded""#))
            // Long before the 30 s handler would finish (it is cancelled at the deadline).
            #expect(clock.now - start < .seconds(12))
        }
    }
}
