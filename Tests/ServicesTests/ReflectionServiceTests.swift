import ConnectRPC
import DevctlCore
import Foundation
@testable import Services
import Testing

/// Server reflection on a service port, asked by real clients: grpcurl 1.8.6 (v1alpha: list,
/// describe, then a call built from what reflection said), grpcio-reflection's descriptor
/// database (v1alpha), and v1 through raw grpcio frames.
@Suite struct ReflectionServiceTests {
    typealias Fixture = ServiceDatabaseFixture

    /// grpcio-reflection and a raw v1 stream; one line per finding.
    static let probe = """
        import sys, grpc
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
        from google.protobuf.descriptor_pool import DescriptorPool
        channel = grpc.insecure_channel(sys.argv[1])
        database = ProtoReflectionDescriptorDatabase(channel)
        print("v1alpha-services", ",".join(sorted(database.get_services())))
        pool = DescriptorPool(database)
        method = pool.FindMethodByName("gateway.v1.GatewayService.GetOverview")
        print("v1alpha-method", method.input_type.full_name, method.output_type.full_name)
        print("v1alpha-fields", ",".join(field.name for field in pool.FindMessageTypeByName("gateway.v1.ServiceHealth").fields))
        # v1, raw: list_services (field 7), then a file that does not exist (field 3).
        info = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                     request_serializer=lambda b: b, response_deserializer=lambda b: b)
        answers = list(info(iter([b"\\x3a\\x00", b"\\x1a\\x0anope.proto"]), timeout=10))
        print("v1-list", b"gateway.v1.GatewayService" in answers[0] and b"grpc.reflection.v1.ServerReflection" in answers[0])
        print("v1-missing", b"file \\"nope.proto\\" not found" in answers[1])
        """

    @Test func grpcurlAndGRPCIOListDescribeAndCall() async throws {
        let grpcurl = try #require(Subprocess.findExecutable("grpcurl"), "grpcurl is missing (scripts/setup.sh installs 1.8.6)")
        try await Fixture.with([Fixture.gateway]) { fixture in
            let environment = ["DATABASE_URL": fixture.url(Fixture.gateway), "CUSTOM_LANG_BASE_URL": Live.deadURL(), "AUTH_BASE_URL": Live.deadURL()]
            let platform = try ServicePlatform(settings: GatewayService.settings(environment: environment), logger: Live.logger("gateway"))
            let gateway = try GatewayService(platform: platform)
            try await Live.serve(platform, routes: gateway.addRoutes(to:)) { url in
                let target = String(url.dropFirst("http://".count))
                let list = try await Subprocess(grpcurl, ["-plaintext", target, "list"]).output()
                #expect(list.status == 0, "\(list.stderr)")
                for service in ["gateway.v1.GatewayService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] {
                    #expect(list.stdout.split(separator: "\n").contains(Substring(service)), "\(service) in \(list.stdout)")
                }
                let describe = try await Subprocess(grpcurl, ["-plaintext", target, "describe", "gateway.v1.GatewayService"]).output()
                #expect(describe.stdout.contains("rpc WatchInvocations ( .gateway.v1.WatchInvocationsRequest ) returns ( stream .gateway.v1.Invocation );"), "\(describe.stdout)\(describe.stderr)")
                let message = try await Subprocess(grpcurl, ["-plaintext", target, "describe", "gateway.v1.ServiceHealth"]).output()
                #expect(message.stdout.contains("int32 latency_ms = 4;"), "\(message.stdout)\(message.stderr)")
                // A call whose request and response types grpcurl learned only through reflection.
                let call = try await Subprocess(grpcurl, ["-plaintext", "-d", "{}", target, "gateway.v1.GatewayService/GetOverview"]).output()
                #expect(call.status == 0, "\(call.stderr)")
                #expect(call.stdout.contains("\"name\": \"auth\""), "\(call.stdout)")
                let unknown = try await Subprocess(grpcurl, ["-plaintext", target, "describe", "nope.v1.Nothing"]).output()
                #expect(unknown.status != 0)
                #expect(unknown.stderr.contains("Symbol not found"), "\(unknown.stderr)")

                let probe = try await Subprocess("/usr/bin/env", ["python3", "-c", Self.probe, target]).output()
                #expect(probe.status == 0, "\(probe.stderr)")
                // (This test process registers other services too: `devctl serve` runs one per process.)
                let services = probe.stdout.split(separator: "\n").first { $0.hasPrefix("v1alpha-services ") }?.dropFirst("v1alpha-services ".count).split(separator: ",") ?? []
                for service in ["gateway.v1.GatewayService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"] {
                    #expect(services.contains(Substring(service)), "\(service) in \(probe.stdout)")
                }
                #expect(probe.stdout.contains("v1alpha-method gateway.v1.GetOverviewRequest gateway.v1.GetOverviewResponse"), "\(probe.stdout)")
                #expect(probe.stdout.contains("v1alpha-fields name,healthy,detail,latency_ms"), "\(probe.stdout)")
                #expect(probe.stdout.contains("v1-list True"), "\(probe.stdout)")
                #expect(probe.stdout.contains("v1-missing True"), "\(probe.stdout)")
            }
        }
    }
}
