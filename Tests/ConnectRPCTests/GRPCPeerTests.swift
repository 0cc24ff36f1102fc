import ConnectRPC
import DevctlCore
import Foundation
import Testing

/// Real gRPC and gRPC-Web clients against the same Swift route Connect clients use: grpcio over
/// h2c (prior knowledge) and the connectrpc client's gRPC-Web protocol over HTTP/1.1.
@Suite struct GRPCPeerTests {
    @Test func grpcioAndGRPCWebClientsCallTheConnectRoute() async throws {
        let stubs = try await PythonPeers.stubs()
        defer { try? FileManager.default.removeItem(atPath: stubs) }
        try await withGreeterServer(options: ConnectServerOptions(compressionMinBytes: 1)) { port in
            let output = try await Subprocess("/usr/bin/env", ["python3", PythonPeers.directory + "/grpc_client.py", stubs, "127.0.0.1:\(port)"]).output()
            #expect(output.status == 0, "\(output.stderr)")
            let results = try #require(try JSONSerialization.jsonObject(with: output.stdoutBytes) as? [String: [String: Any]], "\(output.stderr)")
            #expect(results["ok"]?["message"] as? String == "Hello Ada!")
            #expect(results["gzip"]?["message"] as? String == "Hello Ada!")
            #expect((results["big"]?["message"] as? String)?.count == 20000)
            #expect(results["headers"]?["message"] as? String == "Hello user-42!")
            #expect((results["headers"]?["initial"] as? [String: String])?["x-echo"] == "yes", "response headers are initial metadata")
            #expect((results["headers"]?["trailing"] as? [String: String])?["x-trailer"] == "done", "trailers are trailing metadata")
            #expect(results["timeout"]?["code"] as? String == "DEADLINE_EXCEEDED", "\(results["timeout"] ?? [:])")
            let grpcNames = ["canceled": "CANCELLED", "unknown": "UNKNOWN", "invalid_argument": "INVALID_ARGUMENT",
                             "deadline_exceeded": "DEADLINE_EXCEEDED", "not_found": "NOT_FOUND", "already_exists": "ALREADY_EXISTS",
                             "permission_denied": "PERMISSION_DENIED", "resource_exhausted": "RESOURCE_EXHAUSTED",
                             "failed_precondition": "FAILED_PRECONDITION", "aborted": "ABORTED", "out_of_range": "OUT_OF_RANGE",
                             "unimplemented": "UNIMPLEMENTED", "internal": "INTERNAL", "unavailable": "UNAVAILABLE",
                             "data_loss": "DATA_LOSS", "unauthenticated": "UNAUTHENTICATED"]
            for code in ConnectCode.allCases {
                let result = results["grpc:\(code.rawValue)"]
                #expect(result?["code"] as? String == grpcNames[code.rawValue], "\(code)")
                #expect(result?["error"] as? String == "swift says \(code.rawValue)", "\(code)")
            }
            // Non-ASCII and % survive grpc-message's percent-encoding.
            #expect(results["unicode-error"]?["code"] as? String == "INVALID_ARGUMENT")
            #expect(results["unicode-error"]?["error"] as? String == "swift says invalid_argument ünïcode % 100")
            // google.rpc.Status in grpc-status-details-bin: the detail's type URL and bytes.
            let detailsHex = try #require(results["details"]?["details_bin"] as? String)
            #expect(results["details"]?["code"] as? String == "FAILED_PRECONDITION")
            #expect(detailsHex.contains(Data("type.googleapis.com/google.protobuf.StringValue".utf8).hexString))
            #expect(detailsHex.contains("0a03" + Data("why".utf8).hexString))
            // Metadata set before failing goes out; an upstream's transport headers do not.
            let failedTrailing = try #require(results["metadata-on-error"]?["trailing"] as? [String: String])
            #expect(results["metadata-on-error"]?["code"] as? String == "ABORTED")
            #expect(failedTrailing["x-trailer"] == "done")
            #expect(failedTrailing["x-upstream"] == "kept")
            #expect(failedTrailing["content-length"] == nil && failedTrailing["transfer-encoding"] == nil)
            #expect(results["unknown-method"]?["code"] as? String == "UNIMPLEMENTED")
            // gRPC-Web over HTTP/1.1, binary and JSON.
            #expect(results["web:ok"]?["message"] as? String == "Hello Ada!")
            #expect(results["web:json"]?["message"] as? String == "Hello Ada!")
            #expect(results["web:error"]?["code"] as? String == "not_found")
            #expect(results["web:error"]?["error"] as? String == "swift says not_found")
            #expect(results["web:timeout"]?["code"] as? String == "deadline_exceeded")
        }
    }
}

extension Data {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
