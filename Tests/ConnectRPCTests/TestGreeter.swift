import AsyncHTTPClient
import ConnectRPC
import DevctlCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import HummingbirdTesting
import Protos

/// A greeter whose behaviour the request's name picks, mirroring Peers/peer_server.py:
/// "error:CODE" fails with that code, "sleep:MS" waits, "big:N" answers N characters,
/// "headers" echoes `X-User-Id` and sets response metadata.
struct TestGreeter: Greeter_V1_GreeterServiceHandler {
    func greet(_ request: Greeter_V1_GreetRequest, context: ConnectContext) async throws -> Greeter_V1_GreetResponse {
        let name = request.name
        if name == "fail-with-metadata" {
            // Metadata set before failing, and an error carrying an upstream's transport headers.
            context.addResponseHeader(HTTPField.Name("X-Echo")!, "yes")
            context.addResponseTrailer("x-trailer", "done")
            throw ConnectError(.aborted, "upstream said no", metadata: [
                .contentLength: "999", HTTPField.Name("Date")!: "Mon, 01 Jan 2024 00:00:00 GMT", .transferEncoding: "chunked",
                HTTPField.Name("X-Upstream")!: "kept",
            ])
        }
        if name == "error-details" {
            // google.protobuf.StringValue("why"): field 1, length 3.
            let detail = ConnectError.Detail(type: "google.protobuf.StringValue", value: Data([0x0A, 0x03] + Array("why".utf8)).base64EncodedString())
            throw ConnectError(.failedPrecondition, "with details", details: [detail])
        }
        if name.hasPrefix("error:") {
            // "error:CODE" or "error:CODE rest of the message".
            let raw = String(name.dropFirst(6))
            let code = raw.split(separator: " ").first.map(String.init) ?? raw
            throw ConnectError(ConnectCode(rawValue: code) ?? .unknown, "swift says \(raw)")
        }
        if name.hasPrefix("sleep:"), let milliseconds = Int(name.dropFirst(6)) {
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        if name.hasPrefix("stubborn:"), let milliseconds = Int(name.dropFirst(9)) {
            // A handler that ignores cancellation (a blocking call, say).
            await withCheckedContinuation { continuation in
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { continuation.resume() }
            }
        }
        var response = Greeter_V1_GreetResponse()
        if name.hasPrefix("big:"), let count = Int(name.dropFirst(4)) {
            response.message = String(repeating: "x", count: count)
            return response
        }
        if name == "headers" {
            context.addResponseHeader(HTTPField.Name("X-Echo")!, "yes")
            context.addResponseTrailer("x-trailer", "done")
            response.message = "Hello \(context.requestHeaders[HTTPField.Name("X-User-Id")!] ?? "nobody")!"
            return response
        }
        response.message = "Hello \(name.isEmpty ? "World" : name)!"
        response.externalStatus = 200
        return response
    }
}

/// The streaming test route: "count:N" sends N messages, "fail:N" sends N then fails with
/// aborted (and a trailer), "slow" sends every 100 ms until the call ends.
@Sendable func countStream(_ name: String, context: ConnectContext, stream: ServerStream<Greeter_V1_GreetResponse>) async throws {
    if name == "slow" {
        var index = 0
        while true {
            try await stream.send(.with { $0.message = "tick \(index)" })
            index += 1
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    let parts = name.split(separator: ":")
    let count = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
    for index in 0..<count { try await stream.send(.with { $0.message = "tick \(index)" }) }
    if parts.first == "fail" {
        context.addResponseTrailer("x-after", "\(count)")
        throw ConnectError(.aborted, "stopped after \(count)")
    }
}

/// The client-streaming test route: answers "got " and the names received, comma-separated;
/// a name "fail" makes it fail with aborted after counting what came before.
@Sendable func collectStream(_ requests: RequestStream<Greeter_V1_GreetRequest>, context: ConnectContext) async throws -> Greeter_V1_GreetResponse {
    var names: [String] = []
    for try await request in requests {
        if request.name == "fail" { throw ConnectError(.aborted, "failed after \(names.count)") }
        names.append(request.name)
    }
    return .with { $0.message = "got " + names.joined(separator: ",") }
}

/// The bidirectional test route: answers each name with "echo NAME" as it arrives; "fail"
/// fails with aborted, "hold" waits (for deadlines and cancellation) until the call ends.
@Sendable func chatStream(_ requests: RequestStream<Greeter_V1_GreetRequest>, context: ConnectContext, stream: ServerStream<Greeter_V1_GreetResponse>) async throws {
    for try await request in requests {
        switch request.name {
        case "fail": throw ConnectError(.aborted, "chat failed")
        case "hold": try await Task.sleep(for: .seconds(60))
        default: try await stream.send(.with { $0.message = "echo " + request.name })
        }
    }
}

/// Runs a live Hummingbird server (free port) with the test greeter, plus a GET-enabled copy of
/// Greet at `/test.v1.EchoService/Echo` (no repository proto marks a method side-effect free).
func withGreeterServer(options: ConnectServerOptions = ConnectServerOptions(), _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let router = Router()
    TestGreeter().registerConnect(on: router, options: options)
    router.connectUnary("/test.v1.EchoService/Echo", input: Greeter_V1_GreetRequest.self, allowGET: true, options: options) { request, context in
        try await TestGreeter().greet(request, context: context)
    }
    router.connectServerStream("/test.v1.CountService/Count", input: Greeter_V1_GreetRequest.self, output: Greeter_V1_GreetResponse.self,
                               options: options) { request, context, stream in
        try await countStream(request.name, context: context, stream: stream)
    }
    router.connectClientStream("/test.v1.CountService/Collect", input: Greeter_V1_GreetRequest.self, output: Greeter_V1_GreetResponse.self,
                               options: options, handler: collectStream)
    router.connectBidiStream("/test.v1.CountService/Chat", input: Greeter_V1_GreetRequest.self, output: Greeter_V1_GreetResponse.self,
                             options: options, handler: chatStream)
    let app = Application(router: router, server: .http1AndH2C(responder: router.buildResponder()), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    try await app.test(.live) { client in
        guard let port = client.port else { throw DevctlFailure("the live test server has no port") }
        try await body(port)
    }
}

/// The repository's peer scripts and Python stubs generated for them.
enum PythonPeers {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers").path
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Generates `greeter_pb.py` / `greeter_connect.py` with the pip plugins into a temp folder.
    static func stubs() async throws -> String {
        guard let py = Subprocess.findExecutable("protoc-gen-py"), let connect = Subprocess.findExecutable("protoc-gen-connectrpc"),
              let protoc = Subprocess.findExecutable("protoc") else {
            throw DevctlFailure("the Python Connect peer is missing",
                                hint: "pip install connectrpc==0.13.0 protoc-gen-connectrpc==0.13.0 protoc-gen-py==0.7.0 protobuf-py==0.7.0 uvicorn hypercorn (scripts/setup.sh does)")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-pystubs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        try await Subprocess(protoc, [
            "-I", "proto", "--plugin=protoc-gen-py=\(py)", "--plugin=protoc-gen-connectrpc=\(connect)",
            "--py_out=\(output)", "--connectrpc_out=\(output)", "greeter/v1/greeter.proto",
        ], workingDirectory: repositoryRoot).run()
        return output
    }
}

/// Raw HTTP to a test server: what the server sent, byte for byte (no decompression).
enum RawHTTP {
    static func send(_ port: Int, _ path: String, method: HTTPMethod = .POST, headers: HTTPHeaders = [:], body: [UInt8] = []) async throws -> (status: Int, headers: HTTPHeaders, body: ByteBuffer) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers = headers
        if method == .POST { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await ConnectClient.sharedHTTPClient.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), response.headers, try await response.body.collect(upTo: 1 << 20))
    }
}
