import ConnectRPC
import Foundation
import Hummingbird
import PostgresNIO
import Protos

/// billing-api (port 8100, Connect `billing_api.v1.BillingApiService`), made by
/// `devctl new service billing-api`: `Hello` greets by name and stores the greeting
/// in billing_api_db before replying.
public struct BillingApiService: BillingApi_V1_BillingApiServiceHandler, BundledService {
    public static let name = "billing-api"
    public static let defaultPort = 8100

    let platform: ServicePlatform

    /// The configuration from the environment, with devctl.yaml's defaults.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "billing_api_db", environment: environment)
    }

    public static func make(platform: ServicePlatform) async throws -> Self {
        Self(platform: platform)
    }

    public init(platform: ServicePlatform) {
        self.platform = platform
    }

    /// Adds the RPCs to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        registerConnect(on: router, options: ConnectServerOptions(maxRequestBytes: platform.settings.maxBodyBytes))
    }

    public func hello(_ request: BillingApi_V1_HelloRequest, context: ConnectContext) async throws -> BillingApi_V1_HelloResponse {
        let name = request.name.isEmpty ? "World" : request.name
        guard name.count <= 200 else { throw ConnectError(.invalidArgument, "name is longer than 200 characters") }
        let message = "Hello \(name)!"
        let count = try await platform.connectDatabase("greeting not stored") {
            try await platform.query("INSERT INTO greetings (name, message) VALUES (\(name), \(message))")
            return try await platform.query("SELECT count(*) FROM greetings").first?.decode(Int64.self) ?? 0
        }
        return .with {
            $0.message = message
            $0.count = count
        }
    }
}
