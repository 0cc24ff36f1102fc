/// Limits and behaviour of Connect handlers on a router.
public struct ConnectServerOptions: Sendable {
    /// Largest request message accepted, compressed or not; larger → resource_exhausted.
    public var maxRequestBytes: Int
    /// Responses at least this large are gzipped when the client accepts gzip.
    public var compressionMinBytes: Int
    /// Run around every call, outermost first (see ``ConnectInterceptor``).
    public var interceptors: [any ConnectInterceptor]

    public init(maxRequestBytes: Int = 4 * 1024 * 1024, compressionMinBytes: Int = 1024, interceptors: [any ConnectInterceptor] = []) {
        self.maxRequestBytes = maxRequestBytes
        self.compressionMinBytes = compressionMinBytes
        self.interceptors = interceptors
    }
}
