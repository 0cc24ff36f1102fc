import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// custom-lang (port 3000, REST): localized greetings for gateway, and language preferences.
///
/// - `POST /invoke {name, lang?}` → `{message}` in `lang`, else Accept-Language, else English.
///   The seed's test names (`unauthorized`, `forbidden`, `notfound`, `conflict`, `ratelimit`,
///   `unavailable`) answer 401/403/404/409/429/503 with `{error}`: gateway's error mapping is
///   exercised through them. Every execution is stored in lang_db.
/// - `GET /api/lang` → supported languages.
/// - `PUT|GET /api/lang/preferences/{userId}` → a user's stored language. Through the edge
///   (`/api/lang`, auth middleware) a request carries the caller's `X-User-Id`: only that user's
///   own preference may be read or written (403 otherwise).
public struct CustomLangService: BundledService {
    public static let name = "custom-lang"
    public static let defaultPort = 3000

    let platform: ServicePlatform

    public static func make(platform: ServicePlatform) async throws -> Self {
        Self(platform: platform)
    }

    public init(platform: ServicePlatform) {
        self.platform = platform
    }

    /// The configuration from the environment, with devctl.yaml's defaults.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "lang_db", environment: environment)
    }

    /// Greetings per language; `NAME` is replaced.
    static let greetings: [String: String] = [
        "en": "Hello NAME from custom-lang-service!",
        "ja": "NAMEさん、custom-lang-serviceからこんにちは！",
        "es": "¡Hola NAME desde custom-lang-service!",
        "fr": "Bonjour NAME de la part de custom-lang-service !",
        "de": "Hallo NAME von custom-lang-service!",
    ]

    /// The seed's names that make /invoke fail with a given status.
    static let simulatedFailures: [String: (HTTPResponse.Status, String)] = [
        "unauthorized": (.unauthorized, "unauthorized"),
        "forbidden": (.forbidden, "forbidden"),
        "notfound": (.notFound, "not found"),
        "conflict": (.conflict, "conflict"),
        "ratelimit": (.tooManyRequests, "rate limit exceeded"),
        "unavailable": (.serviceUnavailable, "service unavailable"),
    ]

    struct InvokeRequest: Decodable {
        var name: String?
        var lang: String?
    }

    struct PreferenceRequest: Decodable {
        var lang: String
    }

    /// Adds the service's routes to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/invoke") { request, context in try await invoke(request, context: context) }
        router.get("/api/lang") { _, _ in
            try platform.jsonResponse(.ok, ["languages": Self.greetings.keys.sorted(), "default": "en"])
        }
        router.put("/api/lang/preferences/:userId") { request, context in
            if let refusal = try ownPreference(request, context) { return refusal }
            return try await setPreference(request, context: context)
        }
        router.get("/api/lang/preferences/:userId") { request, context in
            if let refusal = try ownPreference(request, context) { return refusal }
            return try await preference(context: context)
        }
    }

    private func invoke(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let input = try await platform.decodeJSON(InvokeRequest.self, from: request, expecting: #"{"name": …, "lang"?: …}"#)
        let name = (input.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if let (status, message) = Self.simulatedFailures[name.lowercased()] {
            try await record(name: name, message: message, status: status)
            return try platform.jsonResponse(status, ["error": message])
        }
        let language = Self.language(requested: input.lang, acceptLanguage: request.headers[.acceptLanguage])
        let template = Self.greetings[language] ?? Self.greetings["en"] ?? "Hello NAME!"
        let message = template.replacingOccurrences(of: "NAME", with: name.isEmpty ? "World" : name)
        try await record(name: name, message: message, status: .ok)
        return try platform.jsonResponse(.ok, ["message": message, "lang": language])
    }

    /// `lang` if supported, else the first supported Accept-Language entry, else English.
    static func language(requested: String?, acceptLanguage: String?) -> String {
        if let requested = requested?.lowercased(), greetings[requested] != nil { return requested }
        for entry in (acceptLanguage ?? "").split(separator: ",") {
            let tag = entry.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            let primary = String(tag.split(separator: "-").first ?? "")
            if greetings[primary] != nil { return primary }
        }
        return "en"
    }

    /// 403 when the edge says who calls (`X-User-Id`, from the token) and it is another user.
    private func ownPreference(_ request: Request, _ context: BasicRequestContext) throws -> Response? {
        guard let caller = request.headers[HTTPField.Name("X-User-Id")!], caller != context.parameters.get("userId") else { return nil }
        return try platform.jsonResponse(.forbidden, ["error": "a user may only read and set their own language preference"])
    }

    private func setPreference(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let userID = try context.parameters.require("userId")
        let input = try await platform.decodeJSON(PreferenceRequest.self, from: request, expecting: #"{"lang": …}"#)
        let language = input.lang.lowercased()
        guard Self.greetings[language] != nil else {
            return try platform.jsonResponse(.badRequest, ["error": "unsupported language \"\(input.lang)\"; supported: \(Self.greetings.keys.sorted().joined(separator: ", "))"])
        }
        try await platform.database {
            try await platform.query("""
                INSERT INTO language_preferences (subject, language) VALUES (\(userID), \(language))
                ON CONFLICT (subject) DO UPDATE SET language = EXCLUDED.language, updated_at = now()
                """)
        }
        return try platform.jsonResponse(.ok, ["userId": userID, "lang": language])
    }

    private func preference(context: BasicRequestContext) async throws -> Response {
        let userID = try context.parameters.require("userId")
        let stored = try await platform.database {
            try await platform.query("SELECT language FROM language_preferences WHERE subject = \(userID)").first?.decode(String.self)
        }
        guard let stored else { return try platform.jsonResponse(.notFound, ["error": "no preference stored for \(userID)"]) }
        return try platform.jsonResponse(.ok, ["userId": userID, "lang": stored])
    }

    private func record(name: String, message: String, status: HTTPResponse.Status) async throws {
        try await platform.database {
            try await platform.execute(InsertExecution(name: name, message: message, status: Int32(status.code)))
        }
    }
}

/// The execution record, prepared once per pooled connection.
struct InsertExecution: PreparedInsert {
    static let name = "InsertExecution"
    static let sql = "INSERT INTO executions (name, result_message, status_code) VALUES ($1, $2, $3)"
    // The parameter types the values are sent as (the server converts to the columns' types, as for `query`).
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .int4]

    var name: String
    var message: String
    var status: Int32

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(name)
        bindings.append(message)
        bindings.append(status)
        return bindings
    }
}
