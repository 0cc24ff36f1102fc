import ConnectRPC
import DevctlCore
import Foundation
import Protos
import ServiceLifecycle
@testable import Services
import TestSupport
import Testing

/// What `devctl serve` does on SIGTERM, in-process: stop accepting, finish what is in flight,
/// then close the pool — so an acknowledged call's record is never lost.
@Suite struct GracefulShutdownTests {
    typealias Fixture = ServiceDatabaseFixture

    /// Over HTTP/1.1 (Connect) and over h2c (gRPC: the h2c server says GOAWAY, lets the stream
    /// finish, then closes the connection, so the shutdown completes).
    @Test(arguments: [ConnectClient.ClientWire.connect, .grpc])
    func inFlightCallFinishesAndIsRecordedAcrossShutdown(wire: ConnectClient.ClientWire) async throws {
        try await Fixture.with([Fixture.caller]) { fixture in
            let targetServer = TargetServer()
            try await targetServer.run { target, targetPort in
                let port = try FreePorts.take()
                let environment = ["DATABASE_URL": fixture.url(Fixture.caller), "CALLER_ALLOWED_HOSTS": "127.0.0.1:\(targetPort)"]
                let platform = try ServicePlatform(settings: CallerService.settings(environment: environment), logger: Live.logger("caller"))
                let router = platform.makeRouter()
                try CallerService(platform: platform).addRoutes(to: router)
                let group = ServiceGroup(configuration: .init(services: [platform.makeApplication(router: router, port: port)], logger: Live.logger("group")))
                let running = Task { try await group.run() }

                #expect(await eventually(.seconds(30)) { PortProbe.isAccepting(port) })
                let client = Caller_V1_CallerServiceClient(client: ConnectClient(baseURL: "http://127.0.0.1:\(port)", wire: wire))
                let inFlight = Task { try await client.callExternal(.with { $0.url = target + "/slow" }) }
                // Shut down once the call has reached the target (it answers 2 s later), not after
                // a guessed pause.
                #expect(await eventually(.seconds(30)) { targetServer.hits.withLockedValue { $0 } == 1 })
                await group.triggerGracefulShutdown()

                // The call that was in flight (the target answers after 2 s) still succeeds …
                let reply = try await inFlight.value
                #expect(reply.statusCode == 200)
                try await running.value
                // … its record is stored, and the port no longer accepts.
                #expect(try await fixture.scalar("SELECT count(*) FROM call_logs WHERE status_code = 200", in: Fixture.caller) == "1")
                #expect(!PortProbe.isAccepting(port))
            }
        }
    }
}
