import ConnectRPC
import Protos

/// `grpc.health.v1.Health` on every service port, fed by the same readiness as `/readyz` (the
/// service's database answers): `""` is the whole server, a service this process registered is
/// the same status, any other name is NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch), as the
/// protocol says. Watch sends the status now and then each change (checked every second).
struct HealthService: Grpc_Health_V1_HealthHandler {
    let platform: ServicePlatform
    static let watchInterval: Duration = .seconds(1)

    func check(_ request: Grpc_Health_V1_HealthCheckRequest, context: ConnectContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard let status = await status(of: request.service) else {
            throw ConnectError(.notFound, "unknown service \"\(request.service)\"")
        }
        return .with { $0.status = status }
    }

    func watch(_ request: Grpc_Health_V1_HealthCheckRequest, context: ConnectContext, stream: ServerStream<Grpc_Health_V1_HealthCheckResponse>) async throws {
        var last: Grpc_Health_V1_HealthCheckResponse.ServingStatus?
        while !Task.isCancelled {
            let now = await status(of: request.service) ?? .serviceUnknown
            if now != last {
                try await stream.send(.with { $0.status = now })
                last = now
            }
            try await Task.sleep(for: Self.watchInterval)
        }
    }

    /// The status of `service`, or nil when this process does not serve it.
    private func status(of service: String) async -> Grpc_Health_V1_HealthCheckResponse.ServingStatus? {
        guard service.isEmpty || ConnectServices.registered.contains(service) else { return nil }
        return await platform.isDatabaseReady() ? .serving : .notServing
    }
}
