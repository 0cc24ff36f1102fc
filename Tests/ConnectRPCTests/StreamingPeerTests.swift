import ConnectRPC
import DevctlCore
import Foundation
import NIOCore
import Testing

/// Server streaming on one route over gRPC (grpcio, h2c), Connect streaming and gRPC-Web (the
/// connectrpc client): messages in order, empty streams, an error after messages, gzip, and a
/// deadline that ends a stream in the middle.
@Suite struct StreamingPeerTests {
    @Test func serverStreamsReachGRPCConnectAndGRPCWebClients() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/stream_client.py", stubs, "127.0.0.1:\(port)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let results = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: [String: Any]], "\(output.stderr)")
            func messages(_ label: String) -> [String] { results[label]?["messages"] as? [String] ?? ["missing \(label)"] }
            func code(_ label: String) -> String? { results[label]?["code"] as? String }

            #expect(messages("grpc:3") == ["tick 0", "tick 1", "tick 2"] && code("grpc:3") == "OK")
            #expect(messages("grpc:0") == [] && code("grpc:0") == "OK")
            #expect(messages("grpc:fail") == ["tick 0", "tick 1"] && code("grpc:fail") == "ABORTED")
            #expect(results["grpc:fail"]?["error"] as? String == "stopped after 2")
            #expect(messages("grpc:gzip") == ["tick 0", "tick 1"])
            // A deadline in the middle: some messages, then DEADLINE_EXCEEDED (not a hang).
            #expect(code("grpc:deadline") == "DEADLINE_EXCEEDED", "\(results["grpc:deadline"] ?? [:])")
            #expect(messages("grpc:deadline").count <= 5, "\(messages("grpc:deadline"))")
            for name in ["connect", "web"] {
                #expect(messages("\(name):3") == ["tick 0", "tick 1", "tick 2"] && code("\(name):3") == "ok", "\(name)")
                #expect(messages("\(name):json") == ["tick 0", "tick 1"], "\(name)")
                #expect(messages("\(name):fail") == ["tick 0", "tick 1"] && code("\(name):fail") == "aborted", "\(name)")
                #expect(results["\(name):fail"]?["error"] as? String == "stopped after 2", "\(name)")
                #expect(code("\(name):deadline") == "deadline_exceeded", "\(name): \(results["\(name):deadline"] ?? [:])")
                #expect(messages("\(name):deadline").count <= 5, "\(name)")
            }
        }
    }

    /// The server itself ends a stream at its deadline (clients that would give up on their
    /// own are no proof): curl waits up to 10 s, the handler never stops by itself, so the
    /// stream ends only because the server enforced the 300 ms deadline, with its status.
    @Test func theServerEndsAStreamAtItsDeadline() async throws {
        let curl = try #require(Subprocess.findExecutable("curl"), "curl is missing")
        // GreetRequest{name: "slow"} framed: flags 0, length 6, field 1 length 4.
        let frame = Data([0, 0, 0, 0, 6, 0x0A, 4] + Array("slow".utf8))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try frame.write(to: URL(fileURLWithPath: folder + "/request"))
        try await withGreeterServer { port in
            let url = "http://127.0.0.1:\(port)/test.v1.CountService/Count"
            let grpc = try await Subprocess(curl, ["-s", "--http2-prior-knowledge", "--max-time", "10", "-D", folder + "/grpc-headers", "-o", folder + "/grpc-body",
                                                   "-H", "content-type: application/grpc", "-H", "te: trailers", "-H", "grpc-timeout: 300m",
                                                   "--data-binary", "@" + folder + "/request", url]).output()
            // curl exits 0 only when the stream ended: its own 10 s limit would be exit 28.
            #expect(grpc.status == 0, "\(grpc.stderr)")
            // curl -D writes trailers after the headers.
            let grpcHeaders = try String(contentsOfFile: folder + "/grpc-headers", encoding: .utf8).lowercased()
            #expect(grpcHeaders.contains("grpc-status: 4"), "\(grpcHeaders)")

            let connect = try await Subprocess(curl, ["-s", "--max-time", "10", "-o", folder + "/connect-body",
                                                      "-H", "content-type: application/connect+proto", "-H", "connect-timeout-ms: 300",
                                                      "--data-binary", "@" + folder + "/request", url]).output()
            #expect(connect.status == 0, "\(connect.stderr)")
            let connectBody = try Data(contentsOf: URL(fileURLWithPath: folder + "/connect-body"))
            var reader = EnvelopeReader(maxMessageBytes: 1 << 20)
            reader.append(ByteBuffer(bytes: connectBody))
            var frames: [Envelope] = []
            while let envelope = try reader.next() { frames.append(envelope) }
            // Messages before the deadline (none on a machine slow enough), then the end.
            #expect(frames.dropLast().allSatisfy { !$0.flags.contains(.endStream) })
            let end = try #require(frames.last)
            #expect(end.flags.contains(.endStream))
            #expect(String(buffer: end.payload).contains(#""code":"deadline_exceeded""#), "\(String(buffer: end.payload))")
        }
    }
}
