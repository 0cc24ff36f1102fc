import ConnectRPC
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import Protos

/// greeter (port 8080, Connect `greeter.v1.GreeterService/Greet`).
///
/// Greets by name ("World" when empty) and reports what caller's `CallExternal` returned for
/// `EXTERNAL_API_URL`. The greeting is stored before the reply: a success the client sees is
/// always in greeter_db (an insert that fails answers unavailable instead).
public struct GreeterService: Greeter_V1_GreeterServiceHandler, BundledService {
    public static let name = "greeter"
    public static let defaultPort = 8080
    static let userIDHeader = HTTPField.Name("X-User-Id")!

    let platform: ServicePlatform
    let caller: Caller_V1_CallerServiceClient
    let externalURL: String
    /// How long the call to caller may take (the client's own deadline, when shorter, wins).
    let callerTimeout: Duration

    /// The configuration from the environment, with devctl.yaml's defaults.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "greeter_db",
                        defaults: [
                            "CALLER_BASE_URL": "http://127.0.0.1:8081",
                            "EXTERNAL_API_URL": "http://127.0.0.1:3000/healthz",
                            "CALLER_TIMEOUT": "5s",
                            "CALLER_PROTOCOL": "connect",
                        ],
                        environment: environment)
    }

    public static func make(platform: ServicePlatform) async throws -> Self {
        try Self(platform: platform)
    }

    public init(platform: ServicePlatform) throws {
        self.platform = platform
        let base = platform.settings["CALLER_BASE_URL"] ?? ""
        guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ServiceStartupError(service: Self.name, message: "CALLER_BASE_URL \"\(base)\" is not an http(s) URL")
        }
        // Which protocol greeter speaks to caller: Connect (default) or gRPC-Web.
        let protocolName = platform.settings["CALLER_PROTOCOL"] ?? "connect"
        guard let wire = ConnectClient.ClientWire(rawValue: protocolName) else {
            throw ServiceStartupError(service: Self.name, message: "CALLER_PROTOCOL \"\(protocolName)\" is not one of \(ConnectClient.ClientWire.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        caller = Caller_V1_CallerServiceClient(client: ConnectClient(baseURL: base, wire: wire))
        externalURL = platform.settings["EXTERNAL_API_URL"] ?? ""
        callerTimeout = platform.duration("CALLER_TIMEOUT", default: .seconds(5))
    }

    /// Adds the RPC to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        registerConnect(on: router, options: ConnectServerOptions(maxRequestBytes: platform.settings.maxBodyBytes))
    }

    public func greet(_ request: Greeter_V1_GreetRequest, context: ConnectContext) async throws -> Greeter_V1_GreetResponse {
        let trimmed = Self.trimmingWhitespace(request.name)
        let name = trimmed.isEmpty ? "World" : trimmed
        guard name.count <= 200 else { throw ConnectError(.invalidArgument, "name is longer than 200 characters") }

        let external = try await callExternal(context: context)
        let message = "Hello \(name)!"
        let (status, length) = (external.statusCode, external.bodyLength)
        // Set by the edge from the verified token (it strips any value a client sent).
        let userID = context.requestHeaders[Self.userIDHeader]
        try await platform.connectDatabase("greeting not stored") {
            try await platform.execute(InsertGreeting(name: name, message: message, status: status, length: length, userID: userID))
        }
        return .with {
            $0.message = message
            $0.externalStatus = status
            $0.externalBodyLength = length
        }
    }

    /// `name` without leading and trailing white space (Unicode's White_Space: spaces, tabs,
    /// line breaks, NBSP …). Foundation's `trimmingCharacters` bridges through NSString, ~1 % of
    /// a Greet's CPU.
    static func trimmingWhitespace(_ name: String) -> String {
        let scalars = name.unicodeScalars
        guard let first = scalars.first, let last = scalars.last else { return name }
        if !first.properties.isWhitespace && !last.properties.isWhitespace { return name }
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }

    /// caller's answer; its Connect errors pass through with their code (unreachable →
    /// unavailable, too slow → deadline_exceeded, both from the client runtime).
    private func callExternal(context: ConnectContext) async throws -> Caller_V1_CallExternalResponse {
        var timeout = callerTimeout
        if let remaining = context.timeRemaining {
            guard remaining > .milliseconds(1) else { throw ConnectError(.deadlineExceeded, "no time left to call caller") }
            timeout = min(timeout, remaining)
        }
        do {
            return try await caller.callExternal(.with { $0.url = externalURL }, timeout: timeout)
        } catch let error as ConnectError {
            throw ConnectError(error.code, "caller: \(error.message)", details: error.details)
        }
    }
}

/// The greeting record, prepared once per pooled connection.
struct InsertGreeting: PreparedInsert {
    static let name = "InsertGreeting"
    static let sql = "INSERT INTO greetings (name, message, external_status, external_body_length, user_id) VALUES ($1, $2, $3, $4, $5)"
    // The parameter types the values are sent as (the server converts to the columns' types, as for `query`).
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .int4, .int4, .text]

    var name: String
    var message: String
    var status: Int32
    var length: Int32
    var userID: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(name)
        bindings.append(message)
        bindings.append(status)
        bindings.append(length)
        bindings.append(userID)
        return bindings
    }
}
