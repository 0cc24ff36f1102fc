import ConnectRPC
import DevctlCore
import Foundation
import Testing

/// Client and bidirectional streaming with real clients: grpcio over h2c (including full duplex,
/// a deadline and a client cancel in the middle of a stream, a message over the limit), and the
/// connectrpc client with Connect, gRPC-Web and gRPC over HTTP/1.1 and h2c. Bidi over HTTP/1.1
/// is refused, as connect-go refuses it.
@Suite struct CallShapesPeerTests {
    @Test func clientAndBidiStreamsReachEveryClient() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let limit = 64 * 1024
        try await withGreeterServer(options: ConnectServerOptions(maxRequestBytes: limit, compressionMinBytes: 1)) { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/shapes_client.py", stubs, "127.0.0.1:\(port)", "\(limit)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let results = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: [String: Any]], "\(output.stderr)")
            func messages(_ label: String) -> [String] { results[label]?["messages"] as? [String] ?? ["missing \(label): \(results[label] ?? [:])"] }
            func code(_ label: String) -> String? { results[label]?["code"] as? String }

            #expect(messages("grpc:collect") == ["got a,b,c"])
            #expect(messages("grpc:collect-empty") == ["got "])
            #expect(messages("grpc:collect-gzip") == ["got a,b"])
            #expect(code("grpc:collect-fail") == "ABORTED" && results["grpc:collect-fail"]?["error"] as? String == "failed after 1")
            #expect(code("grpc:collect-too-big") == "RESOURCE_EXHAUSTED", "\(results["grpc:collect-too-big"] ?? [:])")
            #expect(messages("grpc:chat") == ["echo a", "echo b"])
            #expect(messages("grpc:chat-empty") == [])
            #expect(code("grpc:chat-fail") == "ABORTED")
            #expect(messages("grpc:ping-pong") == ["echo 0", "echo 1", "echo 2", "echo 3", "echo 4"], "full duplex")
            #expect(code("grpc:chat-deadline") == "DEADLINE_EXCEEDED" && messages("grpc:chat-deadline") == ["echo a"])
            #expect(code("grpc:chat-cancel") == "CANCELLED" && messages("grpc:chat-cancel") == ["echo a", "echo z"])

            for name in ["connect", "web", "connect-h2", "web-h2", "grpc-h2"] {
                #expect(messages("\(name):collect") == ["got a,b"], "\(name)")
                #expect(messages("\(name):collect-json") == ["got a,b"], "\(name)")
                #expect(code("\(name):collect-fail") == "aborted", "\(name): \(results["\(name):collect-fail"] ?? [:])")
            }
            for name in ["connect-h2", "web-h2", "grpc-h2"] {
                #expect(messages("\(name):chat") == ["echo a", "echo b"], "\(name)")
            }
            // HTTP/1.1 cannot carry a bidi stream: refused before any handler runs.
            for name in ["connect", "web"] {
                #expect(code("\(name):chat") != "ok", "\(name): \(results["\(name):chat"] ?? [:])")
            }
        }
    }

    @Test func bidiOverHTTP1IsRefusedWith505() async throws {
        let curl = try #require(Subprocess.findExecutable("curl"), "curl is missing")
        try await withGreeterServer { port in
            let url = "http://127.0.0.1:\(port)/test.v1.CountService/Chat"
            let http1 = try await Subprocess(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "content-type: application/connect+proto",
                                                    "--data-binary", "", url]).output()
            #expect(String(decoding: http1.stdoutBytes, as: UTF8.self) == "505")
            // The same empty stream over h2c is answered (200, an empty end of stream).
            let http2 = try await Subprocess(curl, ["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                                                    "-H", "content-type: application/connect+proto", "--data-binary", "", url]).output()
            #expect(String(decoding: http2.stdoutBytes, as: UTF8.self) == "200")
        }
    }
}
