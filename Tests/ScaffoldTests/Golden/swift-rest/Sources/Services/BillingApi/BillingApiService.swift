import Foundation
import Hummingbird
import PostgresNIO

/// billing-api (port 8100, REST), made by `devctl new service billing-api --template swift-rest`:
/// `POST /billing-api/items {"name": …}` → 201 (stored in billing_api_db),
/// `GET /billing-api/items` → the items.
public struct BillingApiService: BundledService {
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

    struct NewItem: Decodable {
        var name: String
    }

    /// Adds the service's routes to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/billing-api/items") { request, _ in
            let item = try await platform.decodeJSON(NewItem.self, from: request, expecting: #"{"name": …}"#)
            guard !item.name.isEmpty, item.name.count <= 200 else {
                return try platform.jsonResponse(.badRequest, ["error": "name must be 1 to 200 characters"])
            }
            try await platform.database {
                try await platform.query("INSERT INTO items (name) VALUES (\(item.name))")
            }
            return try platform.jsonResponse(.created, ["name": item.name])
        }
        router.get("/billing-api/items") { _, _ in
            let names = try await platform.database {
                try await platform.query("SELECT name FROM items ORDER BY id").map { try $0.decode(String.self) }
            }
            return try platform.jsonResponse(.ok, ["items": names])
        }
    }
}
