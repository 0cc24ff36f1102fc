import ConnectRPC
import DevctlCore
import Foundation
import Testing

/// The h2c connection itself: client PINGs (bandwidth probes, liveness checks) are answered and
/// never cost a busy client its connection; a PING flood is cut with GOAWAY ENHANCE_YOUR_CALM.
@Suite struct HTTP2ConnectionTests {
    /// CI saw grpcio's deadline call fail UNAVAILABLE "Socket closed": Hummingbird's connection
    /// manager closed the connection on grpcio's third PING within 30 s.
    @Test func aBusyGRPCClientKeepsItsConnection() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        try await withGreeterServer { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/busy_grpc_client.py", stubs, "127.0.0.1:\(port)", "8", "20"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let outcomes = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Int], "\(output.stderr)")
            // Every call is either answered or cut by its own deadline: nothing lost to the transport.
            #expect(Set(outcomes.keys).isSubset(of: ["OK", "DEADLINE_EXCEEDED"]), "\(outcomes)")
            #expect(outcomes.values.reduce(0, +) == 160, "\(outcomes)")
            #expect((outcomes["OK"] ?? 0) >= 64, "the answered calls (Ada, big) all succeed: \(outcomes)")
        }
    }

    @Test func pingsAreAnsweredAndAFloodIsCut() async throws {
        try await withGreeterServer { port in
            let burst = try await pings(port: port, count: 60)
            #expect(burst["acks"] as? Int == 60, "\(burst)")
            #expect(burst["goaway_error"] is NSNull, "\(burst)")

            let flood = try await pings(port: port, count: 2000)
            #expect(flood["goaway_error"] as? Int == 11, "ENHANCE_YOUR_CALM: \(flood)")
            // Ours says why; NIOHTTP2's own guard (too many unread PING acks queued) says nothing.
            #expect(["too_many_pings", ""].contains(flood["goaway_debug"] as? String ?? "missing"), "\(flood)")
            #expect((flood["acks"] as? Int ?? 0) < 2000, "\(flood)")
        }
    }

    /// A gRPC unary response over h2c is sent in one write (the trailers travel in the head to
    /// the transport, which moves them to the stream's end): the client still gets headers, the
    /// message and then the trailers — with no content length, at which curl would stop
    /// reading before the trailers — and a handler's own trailers are among them.
    @Test func aGRPCUnaryResponseEndsWithItsTrailersAndHasNoLength() async throws {
        let curl = try #require(Subprocess.findExecutable("curl"), "curl is missing")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unary-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        @Sendable func call(_ name: String, port: Int) async throws -> (headers: String, body: Data) {
            // GreetRequest{name} in one gRPC frame.
            let message = [0x0A, UInt8(name.utf8.count)] + Array(name.utf8)
            try Data([0, 0, 0, 0, UInt8(message.count)] + message).write(to: URL(fileURLWithPath: folder + "/request"))
            let output = try await Subprocess(curl, ["-s", "--http2-prior-knowledge", "--max-time", "10", "-D", folder + "/headers", "-o", folder + "/body",
                                                     "-H", "content-type: application/grpc", "-H", "te: trailers",
                                                     "--data-binary", "@" + folder + "/request", "http://127.0.0.1:\(port)/greeter.v1.GreeterService/Greet"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            return (try String(contentsOfFile: folder + "/headers", encoding: .utf8).lowercased(), try Data(contentsOf: URL(fileURLWithPath: folder + "/body")))
        }
        try await withGreeterServer { port in
            let ok = try await call("Ada", port: port)
            // curl -D writes the trailers after the headers' blank line.
            let parts = ok.headers.components(separatedBy: "\r\n\r\n")
            #expect(parts.count >= 2 && parts[1].contains("grpc-status: 0"), "\(ok.headers)")
            #expect(!parts[0].contains("grpc-status") && !ok.headers.contains("content-length") && !ok.headers.contains("grpc-x-trailer-"), "\(ok.headers)")
            #expect(String(decoding: ok.body.dropFirst(5), as: UTF8.self).contains("Hello Ada!"))
            #expect(ok.body.first == 0 && ok.body.count > 5)

            let failed = try await call("fail-with-metadata", port: port)
            #expect(failed.headers.contains("grpc-status: 10") && failed.headers.contains("x-trailer: done"), "\(failed.headers)")
            #expect(failed.headers.contains("x-echo: yes") && !failed.headers.contains("content-length"), "\(failed.headers)")
            #expect(failed.body.isEmpty)
        }
    }

    /// The h2c server's own stream handling, frame by frame (``H2CServer``): an error with no
    /// message is one trailers-only HEADERS frame; 64 calls opened at once on one connection are
    /// each answered; a client stream past both 64 KB windows gets WINDOW_UPDATEs as it is read
    /// (and none while its handler does not read);
    /// and frames the server drops (sent on streams it already answered and reset) do not use up
    /// the connection's window — counting only delivered bytes stalled the next calls.
    @Test func streamsAreMultiplexedFlowControlledAndErrorsAreTrailersOnly() async throws {
        try await withGreeterServer { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/h2_streams.py", "127.0.0.1", "\(port)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let result = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Any], "\(output.stderr)")
            let trailersOnly = try #require(result["trailers_only"] as? [String: Any], "\(result)")
            #expect(trailersOnly["frames"] as? [String] == ["headers+end"], "\(trailersOnly)")
            #expect(trailersOnly["grpc_status"] as? String == "10" && trailersOnly["content_type"] as? String == "application/grpc+proto", "\(trailersOnly)")
            #expect(result["multiplexed"] as? Int == 64, "\(result)")
            // A Date header, as HTTP/1.1 responses get from the application.
            let date = try #require(result["date"] as? String, "\(result)")
            #expect(date.hasSuffix(" GMT") && date.count == 29, "\(date)")
            let big = try #require(result["big_stream"] as? [String: Any], "\(result)")
            // "got " and 200 names of 1,000 bytes with commas, in one message.
            #expect(big["grpc_status"] as? String == "0" && (big["answer_bytes"] as? Int ?? 0) > 200_000, "\(big)")
            // Back-pressure: a handler that stops reading shuts the stream's window — what got in is
            // the 64 KB window plus what the body's buffer holds (~110 KB), not the 4 MB on offer.
            let held = try #require(result["held"] as? Int, "\(result)")
            #expect(held > 16_000 && held < 400_000, "\(held) bytes went in")
            let dropped = try #require(result["dropped"] as? [String: String], "\(result)")
            #expect(dropped == ["greet": "0", "collect": "0"], "\(dropped)")
        }
    }

    private func pings(port: Int, count: Int) async throws -> [String: Any] {
        let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/h2_pings.py", "127.0.0.1", "\(port)", "\(count)"]).output()
        #expect(output.status == 0, "\(output.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Any], "\(output.stderr)")
    }
}

/// The HTTP/1.1 connection itself, byte by byte (Python sockets): pipelined requests answered in
/// order on a connection that stays open, `Connection: close` honoured, a half-closed client
/// still answered, a body arriving in pieces read as it comes, a chunked server stream and a
/// HEAD answer framed exactly (the next response on the connection parses), malformed input refused.
@Suite struct HTTP1ConnectionTests {
    @Test func pipeliningCloseHalfCloseSlowBodiesAndGarbage() async throws {
        try await withGreeterServer { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/h1_raw.py", "127.0.0.1", String(port)]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let result = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: Any], "\(output.stderr)")
            #expect(result["pipelined"] as? [String] == ["Hello sleep:300!", "Hello two!", "Hello three!"], "\(result)")
            #expect(result["after_pipelined"] as? String == "Hello four!", "\(result)")
            let close = try #require(result["close"] as? [String: Any])
            #expect(close["status"] as? Int == 200 && close["connection"] as? String == "close" && close["closed"] as? Bool == true, "\(close)")
            let halfClose = try #require(result["half_close"] as? [String: Any])
            #expect(halfClose["message"] as? String == "Hello half!" && halfClose["closed"] as? Bool == true, "\(halfClose)")
            let slow = try #require(result["slow_body"] as? [String: Any])
            #expect(slow["status"] as? Int == 200 && slow["length"] as? Int == 300_000 + 7, "\(slow)")
            let malformed = try #require(result["malformed"] as? [String: Any])
            #expect(malformed["status"] as? Int == 400 && malformed["closed"] as? Bool == true, "\(malformed)")
            let stream = try #require(result["stream"] as? [String: Any])
            #expect(stream["transfer_encoding"] as? String == "chunked", "\(stream)")
            #expect(stream["flags"] as? [Int] == [0, 0, 0, 2], "\(stream)")
            #expect(stream["messages"] as? [String] == ["tick 0", "tick 1", "tick 2"], "\(stream)")
            #expect(stream["head_status"] as? Int == 404, "\(stream)")
            #expect(stream["after"] as? String == "Hello after-stream!", "\(stream)")
        }
    }
}
