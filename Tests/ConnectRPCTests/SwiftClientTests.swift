#if canImport(Glibc)
import Glibc
#endif
import ConnectRPC
import DevctlCore
import Foundation
import Protos
import TestSupport
import Testing

/// Our Swift client calling PyPI's `connectrpc` server (ASGI under uvicorn).
@Suite struct SwiftClientTests {
    @Test func swiftClientTalksToPythonServer() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        let port = try FreePorts.take()
        guard let python = Subprocess.findExecutable("python3") else { throw DevctlFailure("python3 is missing") }
        let pid = try ProcessSpawner.spawn(python, [PythonPeers.directory + "/peer_server.py", stubs, String(port)])
        defer {
            kill(pid, SIGTERM)
            _ = ProcessSpawner.wait(for: pid)
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(20))
        while !PortProbe.isAccepting(port) {
            guard clock.now < deadline else { throw DevctlFailure("the Python peer did not listen on \(port) within 20 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let base = "http://127.0.0.1:\(port)"

        for codec in ConnectCodec.allCases {
            // Compress every request, so the server's gzip handling is exercised.
            let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: base, codec: codec, compressionMinBytes: 0))
            var request = Greeter_V1_GreetRequest()
            request.name = "Ada"
            let response = try await client.greet(request, headers: ["X-User-Id": "u1"])
            #expect(response.message == "Hello Ada! (u1)", "\(codec)")
            #expect(response.externalStatus == 200)
        }

        let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: base, codec: .json))
        for code in ConnectCode.allCases {
            var request = Greeter_V1_GreetRequest()
            request.name = "error:\(code.rawValue)"
            let error = await #expect(throws: ConnectError.self) { try await client.greet(request) }
            #expect(error?.code == code)
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
            _ = try await ConnectClient(baseURL: base).unary("/greeter.v1.GreeterService/Nope", Greeter_V1_GreetRequest(), as: Greeter_V1_GreetResponse.self)
        }
        #expect(unknown?.code == .unimplemented)
    }

    @Test func unreachableServerIsUnavailable() async throws {
        let port = try FreePorts.take()
        let client = Greeter_V1_GreeterServiceClient(client: ConnectClient(baseURL: "http://127.0.0.1:\(port)"))
        let error = await #expect(throws: ConnectError.self) { try await client.greet(Greeter_V1_GreetRequest()) }
        #expect(error?.code == .unavailable)
    }
}
