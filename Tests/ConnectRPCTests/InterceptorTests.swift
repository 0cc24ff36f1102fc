import ConnectRPC
import DevctlCore
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import NIOHTTP1
import Protos
import Testing

/// Records every call it wraps (outermost sees it first) and, for a caller named "refused",
/// refuses it with permission_denied before the handler runs.
struct RecordingInterceptor: ConnectInterceptor {
    let name: String
    let log: NIOLockedValueBox<[String]>

    func intercept<Result: Sendable>(_ call: ConnectCallInfo, context: ConnectContext, next: @escaping @Sendable () async throws -> Result) async throws -> Result {
        log.withLockedValue { $0.append("\(name) \(call.wire.rawValue) \(call.shape.rawValue) \(call.procedure)") }
        if context.requestHeaders[HTTPField.Name("x-refuse")!] != nil { throw ConnectError(.permissionDenied, "refused by \(name)") }
        context.addResponseTrailer("x-seen-by-\(name)", "yes")
        do {
            let result = try await next()
            log.withLockedValue { $0.append("\(name) ok") }
            return result
        } catch {
            log.withLockedValue { $0.append("\(name) \((error as? ConnectError)?.code.rawValue ?? "other")") }
            throw error
        }
    }
}

/// Adds the identity header the test greeter echoes ("headers" → "Hello <X-User-Id>!").
struct IdentityInterceptor: ConnectClientInterceptor {
    let calls: NIOLockedValueBox<[String]>

    func intercept<Result: Sendable>(_ call: ConnectCallInfo, headers: HTTPHeaders, next: @escaping @Sendable (HTTPHeaders) async throws -> Result) async throws -> Result {
        var headers = headers
        headers.replaceOrAdd(name: "X-User-Id", value: "intercepted")
        calls.withLockedValue { $0.append("\(call.shape.rawValue) \(call.procedure)") }
        return try await next(headers)
    }
}

@Suite struct InterceptorTests {
    /// One chain for every protocol and shape: grpcio (gRPC, all shapes) and the connectrpc
    /// client (Connect, gRPC-Web) go through the same two interceptors, in order; a refusal is
    /// the interceptor's code on every protocol, and the handler never runs.
    @Test func serverInterceptorsWrapEveryProtocolAndShape() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let log = NIOLockedValueBox<[String]>([])
        let options = ConnectServerOptions(interceptors: [RecordingInterceptor(name: "outer", log: log), RecordingInterceptor(name: "inner", log: log)])
        try await withGreeterServer(options: options) { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/interceptor_client.py", stubs, "127.0.0.1:\(port)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let results = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: String], "\(output.stderr)")
            #expect(results["grpc-unary"] == "Hello Ada!")
            #expect(results["grpc-unary-trailers"] == "outer,inner", "trailers the interceptors added: \(results)")
            #expect(results["grpc-server-stream"] == "tick 0,tick 1")
            #expect(results["grpc-client-stream"] == "got a,b")
            #expect(results["grpc-bidi"] == "echo a")
            #expect(results["connect-unary"] == "Hello Ada!")
            #expect(results["web-unary"] == "Hello Ada!")
            #expect(results["grpc-refused"] == "PERMISSION_DENIED refused by outer")
            #expect(results["connect-refused"] == "permission_denied refused by outer")
            #expect(results["grpc-failing"] == "ABORTED")
        }
        let entries = log.withLockedValue { $0 }
        let greet = "/greeter.v1.GreeterService/Greet"
        for (wire, shape, procedure) in [("grpc", "unary", greet), ("grpc", "server_stream", "/test.v1.CountService/Count"),
                                         ("grpc", "client_stream", "/test.v1.CountService/Collect"), ("grpc", "bidi_stream", "/test.v1.CountService/Chat"),
                                         ("connect", "unary", greet), ("grpc_web", "unary", greet)] {
            let outer = entries.firstIndex(of: "outer \(wire) \(shape) \(procedure)")
            let inner = entries.firstIndex(of: "inner \(wire) \(shape) \(procedure)")
            #expect(outer != nil && inner != nil && outer! < inner!, "\(wire) \(shape): \(entries)")
        }
        // The refusal stopped the chain at the outer interceptor: the inner one never saw it.
        #expect(entries.filter { $0.hasPrefix("inner") && $0.contains(" unary ") }.count == 4, "grpc Ada and error:aborted, Connect, gRPC-Web: \(entries)")
        // A handler's error passes back through both, inner first.
        #expect(entries.contains("inner aborted") && entries.contains("outer aborted"), "\(entries)")
    }

    @Test func clientInterceptorsSeeEveryCallAndCanSetHeaders() async throws {
        try await withGreeterServer { port in
            let calls = NIOLockedValueBox<[String]>([])
            var client = ConnectClient(baseURL: "http://127.0.0.1:\(port)")
            client.interceptors = [IdentityInterceptor(calls: calls)]
            let greeter = Greeter_V1_GreeterServiceClient(client: client)
            // Not inside #expect: a `.with { }` closure in the macro's expansion made this toolchain
            // (Swift 6.3, debug) call it for the *next* `.with { }` in this function too.
            let greeting = try await greeter.greet(.with { $0.name = "headers" })
            #expect(greeting.message == "Hello intercepted!")
            var streamed: [String] = []
            for try await message in client.serverStream("/test.v1.CountService/Count", Greeter_V1_GreetRequest.with { $0.name = "count:1" }, as: Greeter_V1_GreetResponse.self) {
                streamed.append(message.message)
            }
            #expect(streamed == ["tick 0"])
            let names = AsyncStream<Greeter_V1_GreetRequest> { continuation in
                continuation.yield(.with { $0.name = "x" })
                continuation.finish()
            }
            #expect(try await client.clientStream("/test.v1.CountService/Collect", names, as: Greeter_V1_GreetResponse.self).message == "got x")
            #expect(calls.withLockedValue { $0 } == ["unary /greeter.v1.GreeterService/Greet", "server_stream /test.v1.CountService/Count",
                                                      "client_stream /test.v1.CountService/Collect"])
        }
    }
}
