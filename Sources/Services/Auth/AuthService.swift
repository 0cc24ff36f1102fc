import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdBcrypt
import JWTKit
import Logging
import NIOPosix
import PostgresNIO

/// auth (port 8090, REST): accounts with bcrypt (cost 10) and HS256 JWTs.
///
/// - `POST /auth/signup` (and `/auth/register`) `{email, password}` → 201 `{id, email}`.
/// - `POST /auth/login` → 200 `{token, expiresAt}`; a wrong email or password is one 401,
///   taking as long whether or not the account exists. Failures are throttled per account and
///   per client (``LoginThrottle``: 429 with `Retry-After`); at most `AUTH_MAX_CONCURRENT_HASHES`
///   bcrypt computations run at once, more are answered 503 at once instead of queueing.
/// - `GET /auth/verify` (and `/verify`): the edge's forward-auth target; 200 with `X-User-Id`.
/// - `GET /auth/me` → the account behind a valid token.
///
/// `JWT_SECRET` has no built-in value: without one (or with an empty or short one) the service
/// refuses to start. devctl.yaml carries the development value.
public struct AuthService: BundledService {
    public static let name = "auth"
    public static let defaultPort = 8090
    static let bcryptCost: UInt8 = 10

    let platform: ServicePlatform
    let keys: JWTKeyCollection
    let tokenLifetime: Duration
    /// Checked against when the email is unknown, so both paths cost one bcrypt verification.
    let decoyHash: String
    let accountThrottle: LoginThrottle
    let clientThrottle: LoginThrottle
    let hashing: WorkGate

    /// The configuration from the environment, with devctl.yaml's defaults. `JWT_SECRET` is a
    /// secret: it has no default here.
    public static func settings(environment: [String: String] = ProcessInfo.processInfo.environment) -> ServiceSettings {
        ServiceSettings(name: name, defaultPort: defaultPort, defaultDatabase: "auth_db",
                        defaults: ["JWT_TTL": "1h"], secrets: ["JWT_SECRET"],
                        environment: environment)
    }

    /// Checks the secret and lifetime; a bad one is a start-up error that says what to set.
    public static func make(platform: ServicePlatform) async throws -> AuthService {
        let secret = platform.settings["JWT_SECRET"] ?? ""
        // RFC 7518 §3.2: an HS256 key must be at least 256 bits (jwt-kit traps on less).
        guard secret.utf8.count >= 32 else {
            throw ServiceStartupError(service: name, message: "JWT_SECRET is \(secret.utf8.count) bytes; HS256 needs at least 32 (RFC 7518 §3.2). Set a longer JWT_SECRET")
        }
        let ttlText = platform.settings["JWT_TTL"] ?? "1h"
        guard let lifetime = ServiceSettings.parseDuration(ttlText), lifetime >= .seconds(1) else {
            throw ServiceStartupError(service: name, message: "JWT_TTL \"\(ttlText)\" is not a duration of at least 1 s (e.g. 3600, 90s, 30m, 1h)")
        }
        let concurrencyText = platform.settings["AUTH_MAX_CONCURRENT_HASHES"] ?? String(max(2, System.coreCount * 2))
        guard let concurrency = Int(concurrencyText), concurrency > 0 else {
            throw ServiceStartupError(service: name, message: "AUTH_MAX_CONCURRENT_HASHES \"\(concurrencyText)\" is not a positive number")
        }
        // The first lock after the free failures (`AUTH_LOCKOUT`, default 2 s); it doubles from there.
        let lockoutText = platform.settings["AUTH_LOCKOUT"] ?? "2s"
        guard let lockout = ServiceSettings.parseDuration(lockoutText) else {
            throw ServiceStartupError(service: name, message: "AUTH_LOCKOUT \"\(lockoutText)\" is not a duration (e.g. 2s, 500ms)")
        }
        var account = LoginThrottle.Policy.account, client = LoginThrottle.Policy.client
        account.baseLockout = lockout
        client.baseLockout = lockout
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        let decoy = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash("decoy-password-1", cost: bcryptCost) }
        return AuthService(platform: platform, keys: keys, tokenLifetime: lifetime, decoyHash: decoy,
                           accountThrottle: LoginThrottle(policy: account), clientThrottle: LoginThrottle(policy: client),
                           hashing: WorkGate(limit: concurrency))
    }

    struct Credentials: Decodable {
        var email: String
        var password: String
    }

    /// Adds the service's routes to the platform router.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        for path in ["/auth/signup", "/auth/register"] {
            router.post(RouterPath(path)) { request, _ in try await signup(request) }
        }
        router.post("/auth/login") { request, _ in try await login(request) }
        for path in ["/auth/verify", "/verify"] {
            router.get(RouterPath(path)) { request, _ in try await verify(request) }
        }
        router.get("/auth/me") { request, _ in try await me(request) }
    }

    private func signup(_ request: Request) async throws -> Response {
        let credentials = try await platform.decodeJSON(Credentials.self, from: request, expecting: "a JSON body with email and password")
        let email = credentials.email.trimmingCharacters(in: .whitespaces).lowercased()
        if let problem = PasswordPolicy.problem(withEmail: email) ?? PasswordPolicy.problem(with: credentials.password) {
            return try platform.jsonResponse(.badRequest, ["error": problem])
        }
        let password = credentials.password
        guard let hash = try await hashing.tryRun({
            try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: Self.bcryptCost) }
        }) else { return try busy() }
        do {
            let id = try await platform.withDatabaseDeadline(.seconds(3)) { [platform] in
                try await platform.query("INSERT INTO users (email, password_hash) VALUES (\(email), \(hash)) RETURNING id::text").first?.decode(String.self)
            }
            guard let id else { throw HTTPError(.internalServerError) }
            platform.logger.info("account created", metadata: ["user_id": "\(id)"])
            return try platform.jsonResponse(.created, ["id": id, "email": email])
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            return try platform.jsonResponse(.conflict, ["error": "an account with this email already exists"])
        } catch let error as HTTPError {
            throw error
        } catch {
            throw HTTPError(.serviceUnavailable, message: "database unavailable")
        }
    }

    private func login(_ request: Request) async throws -> Response {
        let credentials = try await platform.decodeJSON(Credentials.self, from: request, expecting: "a JSON body with email and password")
        let email = credentials.email.trimmingCharacters(in: .whitespaces).lowercased()
        let accountKey = email
        let clientKey = Self.clientAddress(of: request)
        let locks = [accountThrottle.lockedFor(accountKey), clientThrottle.lockedFor(clientKey)].compactMap { $0 }
        if let wait = locks.max() {
            return try tooManyFailures(retryAfter: wait)
        }
        let row = try await platform.database {
            try await platform.query("SELECT id::text, password_hash, role FROM users WHERE email = \(email)").first?.decode((String, String, String).self)
        }
        let password = credentials.password
        // Unknown email: verify against a decoy so the answer takes as long as a wrong password.
        // A password bcrypt would cut (past 72 bytes, or at a NUL) is checked too, for the same
        // time, but can never match: signup refuses such passwords.
        let hash = row?.1 ?? decoyHash
        let acceptable = PasswordPolicy.isWithinBcryptLimits(password)
        guard let verified = try await hashing.tryRun({
            try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
        }) else { return try busy() }
        guard let (id, _, role) = row, verified, acceptable else {
            let lock = [accountThrottle.recordFailure(accountKey), clientThrottle.recordFailure(clientKey)].compactMap { $0 }.max()
            platform.logger.info("login failed", metadata: lock.map { ["locked_for_s": "\(Self.wholeSeconds($0))"] } ?? [:])
            return try platform.jsonResponse(.unauthorized, ["error": "invalid email or password"])
        }
        accountThrottle.reset(accountKey)
        // Whole seconds: JWT NumericDates are integers to most verifiers (HAProxy's `int` among them).
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let expires = now.addingTimeInterval(Double(tokenLifetime.components.seconds))
        let token = try await keys.sign(AccessToken(
            sub: .init(value: id), email: email, role: role, iat: .init(value: now), exp: .init(value: expires), iss: .init(value: AccessToken.issuer)
        ))
        return try platform.jsonResponse(.ok, ["token": token, "expiresAt": expires.formatted(.iso8601)])
    }

    /// The client's address: the last `X-Forwarded-For` entry (the one the edge appended; the
    /// edge drops what the client sent), else one shared key for direct callers (services bind
    /// loopback, so only the edge and local processes reach them).
    static func clientAddress(of request: Request) -> String {
        guard let header = request.headers[values: HTTPField.Name("X-Forwarded-For")!].last,
              let last = header.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty else {
            return "direct"
        }
        return last
    }

    private func tooManyFailures(retryAfter wait: Duration) throws -> Response {
        let seconds = Self.wholeSeconds(wait)
        var response = try platform.jsonResponse(.tooManyRequests, ["error": "too many failed logins; try again in \(seconds) s"])
        response.headers[.retryAfter] = String(seconds)
        return response
    }

    private func busy() throws -> Response {
        var response = try platform.jsonResponse(.serviceUnavailable, ["error": "too many logins at once; try again shortly"])
        response.headers[.retryAfter] = "1"
        return response
    }

    /// Seconds, rounded up (a `Retry-After` of 0 would invite an immediate retry).
    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }

    /// The verified token of `Authorization: Bearer …`, or `nil`.
    private func bearer(_ request: Request) async -> AccessToken? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return try? await keys.verify(token, as: AccessToken.self)
    }

    private func verify(_ request: Request) async throws -> Response {
        guard let token = await bearer(request) else { return try platform.jsonResponse(.unauthorized, ["error": "missing, invalid or expired token"]) }
        var response = try platform.jsonResponse(.ok, ["userId": token.sub.value, "email": token.email, "role": token.role])
        response.headers[HTTPField.Name("X-User-Id")!] = token.sub.value
        return response
    }

    private func me(_ request: Request) async throws -> Response {
        guard let token = await bearer(request) else { return try platform.jsonResponse(.unauthorized, ["error": "missing, invalid or expired token"]) }
        // By the typed key (the primary key's index), not `id::text`, which scans the table.
        guard let userID = UUID(uuidString: token.sub.value) else {
            return try platform.jsonResponse(.unauthorized, ["error": "missing, invalid or expired token"])
        }
        let row = try await platform.database {
            try await platform.query("SELECT id::text, email, role, created_at::text FROM users WHERE id = \(userID)").first?.decode((String, String, String, String).self)
        }
        guard let (id, email, role, created) = row else { return try platform.jsonResponse(.unauthorized, ["error": "the account no longer exists"]) }
        return try platform.jsonResponse(.ok, ["id": id, "email": email, "role": role, "createdAt": created])
    }
}
