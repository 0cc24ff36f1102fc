import ConnectRPC
import DevctlCore
import Foundation
@testable import Services
import Testing

/// `grpc.health.v1.Health` on a service port, asked by PyPI's grpcio-health-checking client over
/// h2c: the same readiness as /readyz, before and while the database is down.
@Suite struct HealthServiceTests {
    typealias Fixture = ServiceDatabaseFixture

    /// Prints one line per question: `label STATUS` (or the gRPC error code).
    static let probe = """
        import sys, grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        channel = grpc.insecure_channel(sys.argv[1])
        stub = health_pb2_grpc.HealthStub(channel)
        for label, service in [("server", ""), ("greeter", "greeter.v1.GreeterService"), ("nope", "nope.v1.Nothing")]:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                print(label, health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
            except grpc.RpcError as error:
                print(label, error.code().name)
        if sys.argv[2] == "watch":
            for reply in stub.Watch(health_pb2.HealthCheckRequest(service="nope.v1.Nothing"), timeout=10):
                print("watch-unknown", health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
                break
            # Until SERVING: on a loaded machine the first readiness ping may miss its deadline,
            # and Watch then sends the change when it comes.
            for reply in stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10):
                print("watch", health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        """

    @Test func healthFollowsTheDatabase() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let environment = ["DATABASE_URL": fixture.url(Fixture.greeter), "CALLER_BASE_URL": Live.deadURL()]
            let platform = try ServicePlatform(settings: GreeterService.settings(environment: environment), logger: Live.logger("greeter"))
            let greeter = try GreeterService(platform: platform)
            try await Live.serve(platform, routes: greeter.addRoutes(to:)) { url in
                let target = String(url.dropFirst("http://".count))
                let up = try await Subprocess("/usr/bin/env", ["python3", "-c", Self.probe, target, "watch"]).output()
                #expect(up.status == 0, "\(up.stderr)")
                #expect(up.stdout.contains("server SERVING"), "\(up.stdout)")
                #expect(up.stdout.contains("greeter SERVING"), "\(up.stdout)")
                #expect(up.stdout.contains("nope NOT_FOUND"), "\(up.stdout)")
                #expect(up.stdout.contains("watch-unknown SERVICE_UNKNOWN"), "\(up.stdout)")
                #expect(up.stdout.contains("watch SERVING"), "\(up.stdout)")
                _ = try await fixture.manager.stopServer()
                let down = try await Subprocess("/usr/bin/env", ["python3", "-c", Self.probe, target, "check"]).output()
                #expect(down.stdout.contains("server NOT_SERVING"), "\(down.stdout)\(down.stderr)")
                #expect(down.stdout.contains("greeter NOT_SERVING"), "\(down.stdout)")
                _ = try await fixture.manager.startServer()
            }
        }
    }
}
