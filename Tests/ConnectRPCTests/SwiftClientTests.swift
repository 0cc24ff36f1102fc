#if canImport(Glibc)
import Glibc
#endif
import ConnectRPC
import DevctlCore
import Foundation
import HTTPTypes
import Protos
import TestSupport
import Testing

/// Our Swift client calling PyPI's `connectrpc` server (ASGI under hypercorn: Connect and
/// gRPC-Web over HTTP/1.1, gRPC over h2c).
@Suite struct SwiftClientTests {
    @Test func swiftClientTalksToPythonServer() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let port = try FreePorts.take()
        guard let python = Subprocess.findExecutable("python3") else { throw DevctlFailure("python3 is missing") }
        // Under hypercorn: HTTP/1.1 and h2c on one port, so all three protocols reach it.
        let pid = try ProcessSpawner.spawn(python, [PythonPeers.directory + "/peer_server.py", stubs, String(port), "hypercorn"])
        defer {
            // SIGKILL: this wait blocks its thread, and hypercorn's graceful stop could take seconds.
            kill(pid, SIGKILL)
            _ = ProcessSpawner.wait(for: pid)
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(20))
        while !PortProbe.isAccepting(port) {
            guard clock.now < deadline else { throw DevctlFailure("the Python peer did not listen on \(port) within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let base = "http://127.0.0.1:\(port)"

        // Every protocol the Swift client speaks, against the same Python server.
        for wire in ConnectClient.ClientWire.allCases {
            for codec in ConnectCodec.allCases {
                // Compress every request, so the server's gzip handling is exercised.
                let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: base, codec: codec, compressionMinBytes: 0, wire: wire))
                var request = Greeter_V1_GreetRequest()
                request.name = "Ada"
                let response = try await client.greet(request, headers: ["X-User-Id": "u1"])
                #expect(response.message == "Hello Ada! (u1)", "\(wire) \(codec)")
                #expect(response.externalStatus == 200)
            }

            let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: base, codec: .json, wire: wire))
            for code in ConnectCode.allCases {
                var request = Greeter_V1_GreetRequest()
                request.name = "error:\(code.rawValue)"
                let error = await #expect(throws: ConnectError.self) { try await client.greet(request) }
                #expect(error?.code == code, "\(wire)")
                #expect(error?.message == "python says \(code.rawValue)")
            }

            var big = Greeter_V1_GreetRequest()
            big.name = "big:50000"
            #expect(try await client.greet(big).message.count == 50000)

            var slow = Greeter_V1_GreetRequest()
            slow.name = "sleep:3000"
            let timeout = await #expect(throws: ConnectError.self) { try await client.greet(slow, timeout: .milliseconds(300)) }
            #expect(timeout?.code == .deadlineExceeded)

            let unknown = await #expect(throws: ConnectError.self) {
                _ = try await ConnectClient(baseURL: base, wire: wire).unary("/greeter.v1.GreeterService/Nope", Greeter_V1_GreetRequest(), as: Greeter_V1_GreetResponse.self)
            }
            #expect(unknown?.code == .unimplemented)
        }
    }

    @Test func unreachableServerIsUnavailable() async throws {
        let port = try FreePorts.take()
        let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: "http://127.0.0.1:\(port)"))
        let error = await #expect(throws: ConnectError.self) { try await client.greet(Greeter_V1_GreetRequest()) }
        #expect(error?.code == .unavailable)
    }
}

/// The Swift client's streaming calls (Connect streaming over HTTP/1.1) against the test routes.
@Suite struct SwiftStreamingClientTests {
    @Test func serverAndClientStreamsFromSwift() async throws {
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            for codec in [ConnectCodec.proto, .json] {
                let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)", codec: codec, compressionMinBytes: 1)
                var seen: [String] = []
                for try await message in client.serverStream("/test.v1.CountService/Count", Greeter_V1_GreetRequest.with { $0.name = "count:3" }, as: Greeter_V1_GreetResponse.self) {
                    seen.append(message.message)
                }
                #expect(seen == ["tick 0", "tick 1", "tick 2"], "\(codec)")

                // An error after messages: the messages, then the error with its trailer as metadata.
                seen = []
                let failure = await #expect(throws: ConnectError.self) {
                    for try await message in client.serverStream("/test.v1.CountService/Count", Greeter_V1_GreetRequest.with { $0.name = "fail:2" }, as: Greeter_V1_GreetResponse.self) {
                        seen.append(message.message)
                    }
                }
                #expect(seen == ["tick 0", "tick 1"])
                #expect(failure?.code == .aborted && failure?.message == "stopped after 2")
                #expect(failure?.metadata[HTTPField.Name("x-after")!] == "2")

                // The client's timeout ends an endless stream.
                let timedOut = await #expect(throws: ConnectError.self) {
                    for try await _ in client.serverStream("/test.v1.CountService/Count", Greeter_V1_GreetRequest.with { $0.name = "slow" },
                                                           as: Greeter_V1_GreetResponse.self, timeout: .milliseconds(300)) {}
                }
                #expect(timedOut?.code == .deadlineExceeded)

                let names = AsyncStream<Greeter_V1_GreetRequest> { continuation in
                    for name in ["a", "b", "c"] { continuation.yield(.with { $0.name = name }) }
                    continuation.finish()
                }
                let collected = try await client.clientStream("/test.v1.CountService/Collect", names, as: Greeter_V1_GreetResponse.self)
                #expect(collected.message == "got a,b,c")
                let failing = AsyncStream<Greeter_V1_GreetRequest> { continuation in
                    for name in ["a", "fail"] { continuation.yield(.with { $0.name = name }) }
                    continuation.finish()
                }
                let collectFailure = await #expect(throws: ConnectError.self) {
                    _ = try await client.clientStream("/test.v1.CountService/Collect", failing, as: Greeter_V1_GreetResponse.self)
                }
                #expect(collectFailure?.code == .aborted && collectFailure?.message == "failed after 1")
            }
        }
    }
}

/// The Swift client's gRPC-Web unary calls against our server: metadata both ways, trailers,
/// error details, deadlines, gzip.
@Suite struct SwiftGRPCWebClientTests {
    @Test func grpcWebUnaryFromSwift() async throws {
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)", compressionMinBytes: 1, wire: .grpcWeb)
            let greeting = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "headers" },
                                                  as: Greeter_V1_GreetResponse.self, headers: ["X-User-Id": "web-7"])
            #expect(greeting.message.message == "Hello web-7!")
            #expect(greeting.headers.first(name: "x-echo") == "yes")
            #expect(greeting.headers.first(name: "trailer-x-trailer") == "done")

            let detailed = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "error-details" }, as: Greeter_V1_GreetResponse.self)
            }
            #expect(detailed?.code == .failedPrecondition)
            #expect(detailed?.details.first?.type == "google.protobuf.StringValue")
            let withMetadata = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "fail-with-metadata" }, as: Greeter_V1_GreetResponse.self)
            }
            #expect(withMetadata?.code == .aborted)
            #expect(withMetadata?.metadata[HTTPField.Name("x-trailer")!] == "done")
            let unicode = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "error:invalid_argument ünïcode % 100" }, as: Greeter_V1_GreetResponse.self)
            }
            #expect(unicode?.message == "swift says invalid_argument ünïcode % 100")
            let slow = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "sleep:3000" },
                                           as: Greeter_V1_GreetResponse.self, timeout: .milliseconds(300))
            }
            #expect(slow?.code == .deadlineExceeded)
            let big = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "big:20000" }, as: Greeter_V1_GreetResponse.self)
            #expect(big.message.message.count == 20000)
        }
    }
}

/// The Swift client's gRPC over h2c against our server: all four call shapes on one shared
/// connection, statuses with details and metadata, deadlines, gzip, full duplex.
@Suite struct SwiftGRPCClientTests {
    @Test func grpcOverH2CFromSwift() async throws {
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)", compressionMinBytes: 1, wire: .grpc)
            let greeting = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "headers" },
                                                  as: Greeter_V1_GreetResponse.self, headers: ["X-User-Id": "grpc-9"])
            #expect(greeting.message.message == "Hello grpc-9!")
            #expect(greeting.headers.first(name: "x-echo") == "yes")
            #expect(greeting.headers.first(name: "trailer-x-trailer") == "done")
            for code in ConnectCode.allCases {
                let failure = await #expect(throws: ConnectError.self) {
                    _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "error:\(code.rawValue)" }, as: Greeter_V1_GreetResponse.self)
                }
                #expect(failure?.code == code && failure?.message == "swift says \(code.rawValue)", "\(code)")
            }
            let detailed = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "error-details" }, as: Greeter_V1_GreetResponse.self)
            }
            #expect(detailed?.details.first?.type == "google.protobuf.StringValue")
            let slow = await #expect(throws: ConnectError.self) {
                _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "sleep:3000" },
                                           as: Greeter_V1_GreetResponse.self, timeout: .milliseconds(300))
            }
            #expect(slow?.code == .deadlineExceeded)

            var ticks: [String] = []
            for try await message in client.serverStream("/test.v1.CountService/Count", Greeter_V1_GreetRequest.with { $0.name = "count:3" }, as: Greeter_V1_GreetResponse.self) {
                ticks.append(message.message)
            }
            #expect(ticks == ["tick 0", "tick 1", "tick 2"])
            let names = AsyncStream<Greeter_V1_GreetRequest> { continuation in
                for name in ["a", "b"] { continuation.yield(.with { $0.name = name }) }
                continuation.finish()
            }
            #expect(try await client.clientStream("/test.v1.CountService/Collect", names, as: Greeter_V1_GreetResponse.self).message == "got a,b")

            // Full duplex: each request is produced only after the previous answer arrived.
            let (requests, requestSink) = AsyncStream<Greeter_V1_GreetRequest>.makeStream()
            requestSink.yield(.with { $0.name = "0" })
            var echoes: [String] = []
            for try await answer in client.bidiStream("/test.v1.CountService/Chat", requests, as: Greeter_V1_GreetResponse.self, timeout: .seconds(10)) {
                echoes.append(answer.message)
                if echoes.count < 4 { requestSink.yield(.with { $0.name = "\(echoes.count)" }) } else { requestSink.finish() }
            }
            #expect(echoes == ["echo 0", "echo 1", "echo 2", "echo 3"])

            let overHTTP1 = await #expect(throws: ConnectError.self) {
                for try await _ in ConnectClient(baseURL: "http://127.0.0.1:\(port)").bidiStream("/test.v1.CountService/Chat", AsyncStream<Greeter_V1_GreetRequest> { $0.finish() },
                                                                                                 as: Greeter_V1_GreetResponse.self) {}
            }
            #expect(overHTTP1?.code == .unimplemented)
        }
    }
}

/// How the Swift client's calls end when the caller's side fails: a request sequence that throws,
/// a cancelled task. They end at once, with the right code (no hang, no "unavailable").
@Suite struct SwiftClientFailureTests {
    struct RequestsFailed: Error {}

    @Test func aFailingRequestStreamEndsTheCall() async throws {
        try await withGreeterServer { port in
            for wire in [ConnectClient.ClientWire.grpc] {
                let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)", wire: wire)
                let failing = AsyncThrowingStream<Greeter_V1_GreetRequest, any Error> { continuation in
                    continuation.yield(.with { $0.name = "a" })
                    continuation.finish(throwing: RequestsFailed())
                }
                // No call timeout: only the failure can end it (the outer 10 s would be a hang).
                let outcome = await #expect(throws: ConnectError.self) {
                    try await withTimeout(.seconds(10), {
                        _ = try await client.clientStream("/test.v1.CountService/Collect", failing, as: Greeter_V1_GreetResponse.self)
                    }) { ConnectError(.deadlineExceeded, "the call hung") }
                }
                #expect(outcome?.code == .canceled, "\(wire): \(String(describing: outcome))")
            }
        }
    }

    @Test func aCancelledCallIsCanceled() async throws {
        try await withGreeterServer { port in
            for wire in ConnectClient.ClientWire.allCases {
                let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)", wire: wire)
                let call = Task {
                    _ = try await client.unary("/greeter.v1.GreeterService/Greet", Greeter_V1_GreetRequest.with { $0.name = "sleep:5000" }, as: Greeter_V1_GreetResponse.self)
                }
                try await Task.sleep(for: .milliseconds(300))
                let cancelled = ContinuousClock.now
                call.cancel()
                let result = await call.result
                #expect((result.error as? ConnectError)?.code == .canceled, "\(wire): \(String(describing: result))")
                // Long before the 5 s handler would have answered (generous: CI machines are loaded).
                #expect(ContinuousClock.now - cancelled < .seconds(4), "\(wire)")
            }
            // A client stream whose caller is cancelled while it waits for the answer.
            let client = ConnectClient(baseURL: "http://127.0.0.1:\(port)")
            let (endless, _) = AsyncStream<Greeter_V1_GreetRequest>.makeStream()
            let call = Task { _ = try await client.clientStream("/test.v1.CountService/Collect", endless, as: Greeter_V1_GreetResponse.self) }
            try await Task.sleep(for: .milliseconds(300))
            call.cancel()
            let result = await call.result
            #expect((result.error as? ConnectError)?.code == .canceled, "connect client stream: \(String(describing: result))")
        }
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
