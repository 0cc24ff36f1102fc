/// The edge's routes and policies, in one place: the local HAProxy config and the Kubernetes
/// Traefik resources are both rendered from this model, so they cannot drift apart.
public struct RouteModel: Sendable, Equatable {
    /// One path prefix routed to one service, with its middlewares in order.
    public struct Route: Sendable, Equatable {
        public var service: String
        public var pathPrefix: String
        public var port: Int
        public var middlewares: [Exposure.Middleware]
        /// Readiness path the edge health-checks.
        public var readinessPath: String
        /// The edge speaks HTTP/2 with prior knowledge (h2c) to the service, as the original's
        /// Traefik did (`scheme: h2c`): RPC services, so gRPC and streams pass through.
        public var h2c: Bool

        public init(service: String, pathPrefix: String, port: Int, middlewares: [Exposure.Middleware], readinessPath: String, h2c: Bool = false) {
            self.service = service
            self.pathPrefix = pathPrefix
            self.port = port
            self.middlewares = middlewares
            self.readinessPath = readinessPath
            self.h2c = h2c
        }

        public func uses(_ middleware: Exposure.Middleware) -> Bool { middlewares.contains(middleware) }
    }

    /// The seed's Traefik CORS middleware.
    public struct CORSPolicy: Sendable, Equatable {
        public var allowedOrigins: [String]
        public var allowedMethods = ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
        public var allowedHeaders = [
            "Authorization", "Content-Type", "Accept", "Accept-Language", "Connect-Protocol-Version",
            "Connect-Timeout-Ms", "Grpc-Timeout", "X-Grpc-Web", "X-User-Agent", "Traceparent", "Tracestate",
        ]
        public var exposedHeaders = ["Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "Connect-Protocol-Version", "X-Request-Id"]
        public var maxAgeSeconds = 7200
        public var allowCredentials = true

        public init(allowedOrigins: [String]) {
            self.allowedOrigins = allowedOrigins
        }
    }

    /// The seed's Traefik rate limit: a token bucket per client IP.
    public struct RateLimitPolicy: Sendable, Equatable {
        /// Sustained requests per second.
        public var average = 100
        /// Extra requests allowed in a burst.
        public var burst = 50

        public init(average: Int = 100, burst: Int = 50) {
            self.average = average
            self.burst = burst
        }
    }

    /// Where the edge listens.
    public var port: Int
    /// Longest prefix first, so a more specific route wins.
    public var routes: [Route]
    public var cors: CORSPolicy
    public var rateLimit: RateLimitPolicy
    /// The service that issues tokens (its JWT_SECRET verifies them at the edge), if any.
    public var tokenIssuer: String?
    /// New traces per second the edge starts sampled (`nil`: all); see ``TraceSettings``.
    public var tracesSampledPerSecond: Int?

    public init(port: Int, routes: [Route], cors: CORSPolicy, rateLimit: RateLimitPolicy, tokenIssuer: String?,
                tracesSampledPerSecond: Int? = nil) {
        self.port = port
        self.routes = routes
        self.cors = cors
        self.rateLimit = rateLimit
        self.tokenIssuer = tokenIssuer
        self.tracesSampledPerSecond = tracesSampledPerSecond
    }
}

extension StackConfig {
    /// The edge's route model: every exposed service, longest prefix first.
    public var routeModel: RouteModel {
        let routes = services.compactMap { service -> RouteModel.Route? in
            guard let expose = service.expose else { return nil }
            return RouteModel.Route(service: service.name, pathPrefix: expose.pathPrefix, port: service.port,
                                    middlewares: expose.middlewares, readinessPath: service.health.ready, h2c: service.kind == .rpc)
        }
        .sorted { ($0.pathPrefix.count, $1.service) > ($1.pathPrefix.count, $0.service) }
        return RouteModel(
            port: edge.port, routes: routes, cors: .init(allowedOrigins: edge.corsOrigins),
            rateLimit: .init(average: edge.rateLimitAverage, burst: edge.rateLimitBurst),
            tokenIssuer: services.first { $0.environment.contains { $0.name == "JWT_SECRET" } }?.name,
            tracesSampledPerSecond: traces.samplePerSecond
        )
    }
}
