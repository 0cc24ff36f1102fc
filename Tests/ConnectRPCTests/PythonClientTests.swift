import ConnectRPC
import DevctlCore
import Foundation
import Testing

/// PyPI's `connectrpc` client calling our Swift server: the real peer decides what "correct" is.
@Suite struct PythonClientTests {
    @Test func pythonClientTalksToSwiftServer() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        // Compress from 1 byte, so that gzip is exercised both ways.
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/peer_client.py", stubs, "http://127.0.0.1:\(port)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let results = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: [String: Any]])
            #expect(results["json"]?["message"] as? String == "Hello Ada!")
            #expect(results["json"]?["status"] as? Int == 200)
            #expect(results["binary"]?["message"] as? String == "Hello Ada!")
            #expect(results["identity"]?["message"] as? String == "Hello Ada!")
            #expect(results["empty"]?["message"] as? String == "Hello World!")
            #expect((results["big"]?["message"] as? String)?.count == 20000)
            for code in ConnectCode.allCases {
                #expect(results["error:\(code.rawValue)"]?["code"] as? String == code.rawValue, "\(code)")
                #expect(results["error:\(code.rawValue)"]?["error"] as? String == "swift says \(code.rawValue)")
            }
            #expect(results["timeout"]?["code"] as? String == "deadline_exceeded")
            #expect(results["headers"]?["message"] as? String == "Hello user-42!")
        }
    }
}
