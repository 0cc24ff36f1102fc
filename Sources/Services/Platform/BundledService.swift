import Hummingbird

/// A service `devctl serve NAME` can run: its name, its configuration, how it is made from the
/// platform (checking its settings), and its routes. `ServiceRegistry` lists them.
public protocol BundledService: Sendable {
    /// The name in devctl.yaml (`greeter`, `custom-lang`).
    static var name: String { get }
    /// The configuration from `environment`, with the service's development defaults.
    static func settings(environment: [String: String]) -> ServiceSettings
    /// The service, or a ``ServiceStartupError`` naming a bad setting.
    static func make(platform: ServicePlatform) async throws -> Self
    /// Adds the service's routes to the platform router.
    func addRoutes(to router: Router<BasicRequestContext>)
}
