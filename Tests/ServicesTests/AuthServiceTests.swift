import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import NIOCore
import Services
import Testing

@Suite struct AuthServiceTests {
    // 64 bytes, so that an HS512 forgery with the same secret can be made (jwt-kit insists).
    static let secret = "test-secret-that-is-long-enough-for-hs256-and-for-hs512-forgery!!"

    private func withService(ttl: String = "1h", environment extra: [String: String] = [:],
                             _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await ServiceDatabaseFixture.with(service: "auth", database: "auth_db", migrations: "Sources/Services/Auth/Migrations") { fixture in
            var logger = Logger(label: "auth-test")
            logger.logLevel = .warning
            let environment = ["DATABASE_URL": fixture.databaseURL, "JWT_SECRET": Self.secret, "JWT_TTL": ttl].merging(extra) { $1 }
            let platform = try ServicePlatform(settings: AuthService.settings(environment: environment), logger: logger)
            let service = try await AuthService.make(platform: platform)
            let router = platform.makeRouter()
            service.addRoutes(to: router)
            try await platform.makeApplication(router: router).test(.router) { client in
                await Live.warmUp(platform)
                try await body(client)
            }
        }
    }

    private func post(_ client: any TestClientProtocol, _ path: String, _ json: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        let response = try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
    }

    /// A login from `client` (its address as the edge forwards it); status and Retry-After.
    private func login(_ client: any TestClientProtocol, _ email: String, _ password: String, from address: String = "198.51.100.7") async throws -> (HTTPResponse.Status, String?) {
        let body = try JSONSerialization.data(withJSONObject: ["email": email, "password": password])
        let response = try await client.execute(uri: "/auth/login", method: .post,
                                                headers: [.contentType: "application/json", HTTPField.Name("X-Forwarded-For")!: address],
                                                body: ByteBuffer(bytes: body))
        return (response.status, response.headers[.retryAfter])
    }

    private func get(_ client: any TestClientProtocol, _ path: String, token: String?) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .get, headers: headers)
    }

    @Test func signupLoginVerifyAndMe() async throws {
        try await withService { client in
            let (created, account) = try await post(client, "/auth/signup", #"{"email":"Ada@Example.com","password":"analytical1"}"#)
            #expect(created == .created)
            #expect(account["email"] as? String == "ada@example.com")
            let id = try #require(account["id"] as? String)

            let (duplicate, _) = try await post(client, "/auth/register", #"{"email":"ada@example.com","password":"analytical2"}"#)
            #expect(duplicate == .conflict)

            let (ok, login) = try await post(client, "/auth/login", #"{"email":"ada@example.com","password":"analytical1"}"#)
            #expect(ok == .ok)
            let token = try #require(login["token"] as? String)
            #expect(login["expiresAt"] is String)

            let verified = try await get(client, "/auth/verify", token: token)
            #expect(verified.status == .ok)
            #expect(verified.headers[HTTPField.Name("X-User-Id")!] == id)
            #expect(try await get(client, "/verify", token: token).status == .ok)
            let me = try await get(client, "/auth/me", token: token)
            #expect(String(buffer: me.body).contains("\"email\":\"ada@example.com\""))
        }
    }

    @Test func passwordAndEmailRulesGivePreciseMessages() async throws {
        try await withService { client in
            let cases: [(String, String)] = [
                (#"{"email":"not-an-email","password":"analytical1"}"#, "email must look like name@example.com"),
                (#"{"email":"a@b.io","password":"short1"}"#, "password must be at least 8 characters"),
                (#"{"email":"a@b.io","password":"12345678901"}"#, "password must contain a letter"),
                (#"{"email":"a@b.io","password":"onlyletters"}"#, "password must contain a digit"),
                (#"{"email":"a@b.io","password":"Password1"}"#, "password is too common; choose another"),
            ]
            for (body, message) in cases {
                let (status, answer) = try await post(client, "/auth/signup", body)
                #expect(status == .badRequest, "\(body)")
                #expect(answer["error"] as? String == message)
            }
        }
    }

    @Test func wrongEmailOrPasswordIsOneGenericAnswer() async throws {
        try await withService { client in
            _ = try await post(client, "/auth/signup", #"{"email":"ada@example.com","password":"analytical1"}"#)
            let (wrongPassword, first) = try await post(client, "/auth/login", #"{"email":"ada@example.com","password":"analytical9"}"#)
            let (unknownEmail, second) = try await post(client, "/auth/login", #"{"email":"nobody@example.com","password":"analytical1"}"#)
            #expect(wrongPassword == .unauthorized && unknownEmail == .unauthorized)
            #expect(first["error"] as? String == second["error"] as? String)
        }
    }

    @Test func tamperedForgedNoneAndExpiredTokensAreRefused() async throws {
        try await withService(ttl: "90s") { client in
            _ = try await post(client, "/auth/signup", #"{"email":"ada@example.com","password":"analytical1"}"#)
            let (_, login) = try await post(client, "/auth/login", #"{"email":"ada@example.com","password":"analytical1"}"#)
            let token = try #require(login["token"] as? String)
            let parts = token.split(separator: ".").map(String.init)

            // Payload changed, signature kept.
            let forgedPayload = Data(#"{"sub":"00000000-0000-0000-0000-000000000000","email":"x","role":"admin","iat":0,"exp":9999999999,"iss":"devctl-auth"}"#.utf8)
                .base64EncodedString().replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(try await get(client, "/auth/verify", token: "\(parts[0]).\(forgedPayload).\(parts[2])").status == .unauthorized)
            // alg none.
            let none = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            #expect(try await get(client, "/auth/verify", token: "\(none).\(parts[1]).").status == .unauthorized)
            // Another algorithm with the same secret.
            let hs512 = JWTKeyCollection()
            await hs512.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha512)
            struct Claims: JWTPayload {
                var sub: SubjectClaim; var email: String; var role: String; var iat: IssuedAtClaim; var exp: ExpirationClaim; var iss: IssuerClaim
                func verify(using algorithm: some JWTAlgorithm) async throws {}
            }
            let other = try await hs512.sign(Claims(sub: "x", email: "x", role: "admin", iat: .init(value: Date()), exp: .init(value: Date().addingTimeInterval(600)), iss: "devctl-auth"))
            #expect(try await get(client, "/auth/verify", token: other).status == .unauthorized)
            #expect(try await get(client, "/auth/verify", token: nil).status == .unauthorized)

            // JWT_TTL sets the lifetime, and expiry is enforced (a token of the same key, signed
            // as auth signs them, but expired: no sleeping on a clock a loaded machine stretches).
            #expect(try await get(client, "/auth/verify", token: token).status == .ok)
            var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
            let payloadData = try #require(Data(base64Encoded: payload))
            let claims = try #require(try JSONSerialization.jsonObject(with: payloadData) as? [String: Any])
            let issued = try #require(claims["iat"] as? Int), expires = try #require(claims["exp"] as? Int)
            #expect(expires - issued == 90)
            let hs256 = JWTKeyCollection()
            await hs256.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
            let past = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 120)
            let expired = try await hs256.sign(Claims(sub: "x", email: "x", role: "user", iat: .init(value: past), exp: .init(value: past.addingTimeInterval(60)), iss: "devctl-auth"))
            #expect(try await get(client, "/auth/verify", token: expired).status == .unauthorized)
        }
    }

    @Test func shortSecretIsRefusedAtStartup() async throws {
        var logger = Logger(label: "auth-test")
        logger.logLevel = .critical
        let platform = try ServicePlatform(settings: AuthService.settings(environment: ["JWT_SECRET": "too-short", "DATABASE_URL": "postgresql://u:p@127.0.0.1:1/auth_db"]), logger: logger)
        let error = await #expect(throws: ServiceStartupError.self) { _ = try await AuthService.make(platform: platform) }
        #expect(error?.description == "auth: JWT_SECRET is 9 bytes; HS256 needs at least 32 (RFC 7518 §3.2). Set a longer JWT_SECRET")
    }

    @Test func authWithoutASecretRefusesToStart() throws {
        for environment in [["DATABASE_URL": "postgresql://u:p@127.0.0.1:1/auth_db"], ["DATABASE_URL": "postgresql://u:p@127.0.0.1:1/auth_db", "JWT_SECRET": ""]] {
            let error = #expect(throws: ServiceStartupError.self) { _ = try ServicePlatform(settings: AuthService.settings(environment: environment)) }
            #expect(error?.message.hasPrefix("JWT_SECRET is not set (or empty); it has no built-in value") == true, "\(error?.message ?? "")")
        }
        // Nor a database URL (it carries a password): no built-in one either.
        let error = #expect(throws: ServiceStartupError.self) { _ = try ServicePlatform(settings: AuthService.settings(environment: ["JWT_SECRET": Self.secret])) }
        #expect(error?.message.hasPrefix("DATABASE_URL is not set") == true)
    }

    @Test func passwordsBeyondBcryptsSeventyTwoBytesAreRefusedAndNeverMatch() async throws {
        try await withService { client in
            // 37 characters, 73 bytes: the character count is fine, the byte count is not.
            let long = "1" + String(repeating: "é", count: 36)
            let (status, answer) = try await post(client, "/auth/signup", #"{"email":"long@example.com","password":"\#(long)"}"#)
            #expect(status == .badRequest)
            #expect(answer["error"] as? String == "password must be at most 72 bytes in UTF-8 (bcrypt reads no further); this one is 73 bytes")
            // Exactly 72 bytes is accepted; anything that only adds bytes after it must not log in.
            let exact = "a1" + String(repeating: "x", count: 70)
            let (created, _) = try await post(client, "/auth/signup", #"{"email":"edge@example.com","password":"\#(exact)"}"#)
            #expect(created == .created)
            #expect(try await login(client, "edge@example.com", exact).0 == .ok)
            #expect(try await login(client, "edge@example.com", exact + "anything").0 == .unauthorized)
            let nul = try await post(client, "/auth/signup", #"{"email":"nul@example.com","password":"abc12345\u0000tail"}"#)
            #expect(nul.0 == .badRequest)
        }
    }

    @Test func repeatedWrongPasswordsAreThrottledPerAccount() async throws {
        // A long first lock, so that a loaded machine's pauses cannot outlast it mid-test.
        try await withService(environment: ["AUTH_LOCKOUT": "60s"]) { client in
            _ = try await post(client, "/auth/signup", #"{"email":"ada@example.com","password":"analytical1"}"#)
            // A success clears the count: 4 failures, a success, 4 more are all plain 401s.
            for _ in 0..<4 { #expect(try await login(client, "ada@example.com", "wrong-guess-0").0 == .unauthorized) }
            #expect(try await login(client, "ada@example.com", "analytical1").0 == .ok)
            var statuses: [HTTPResponse.Status] = []
            var retryAfter: String?
            for _ in 0..<15 {
                let (status, wait) = try await login(client, "ada@example.com", "wrong-guess-1")
                statuses.append(status)
                if status == .tooManyRequests { retryAfter = wait }
            }
            #expect(Array(statuses.prefix(5)) == Array(repeating: .unauthorized, count: 5), "\(statuses)")
            #expect(Array(statuses.dropFirst(5)) == Array(repeating: .tooManyRequests, count: 10), "\(statuses)")
            #expect(retryAfter.flatMap(Int.init).map { $0 > 1 && $0 <= 60 } == true, "\(retryAfter ?? "none")")
            // Locked: even the right password waits (the lock is not an oracle for it).
            #expect(try await login(client, "ada@example.com", "analytical1").0 == .tooManyRequests)
            // Another client guessing at another account is not affected.
            #expect(try await login(client, "bob@example.com", "whatever-1", from: "203.0.113.50").0 == .unauthorized)
        }
    }

    @Test func oneClientGuessingAcrossAccountsIsThrottled() async throws {
        try await withService(environment: ["AUTH_LOCKOUT": "60s"]) { client in
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<24 {
                statuses.append(try await login(client, "user\(index)@example.com", "guess-number-\(index)", from: "192.0.2.66").0)
            }
            #expect(statuses.filter { $0 == .unauthorized }.count == 20)
            #expect(statuses.last == .tooManyRequests)
            #expect(try await login(client, "user0@example.com", "guess-1", from: "192.0.2.67").0 == .unauthorized)
        }
    }

    @Test func aLoginFloodIsAnsweredAtOnceBeyondTheHashingLimit() async throws {
        try await withService(environment: ["AUTH_MAX_CONCURRENT_HASHES": "1"]) { client in
            let results = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for index in 0..<12 {
                    group.addTask { try await login(client, "flood\(index)@example.com", "guess-\(index)-x", from: "10.9.0.\(index)") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let busy = results.filter { $0.0 == .serviceUnavailable }
            #expect(!busy.isEmpty, "\(results.map(\.0))")
            #expect(busy.allSatisfy { $0.1 == "1" })
            #expect(results.allSatisfy { $0.0 == .serviceUnavailable || $0.0 == .unauthorized })
        }
    }

    @Test func tokenTimesAreWholeSeconds() async throws {
        try await withService { client in
            _ = try await post(client, "/auth/signup", #"{"email":"ada@example.com","password":"analytical1"}"#)
            let (_, login) = try await post(client, "/auth/login", #"{"email":"ada@example.com","password":"analytical1"}"#)
            let token = try #require(login["token"] as? String)
            var payload = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
            let json = String(decoding: try #require(Data(base64Encoded: payload)), as: UTF8.self)
            #expect(json.firstMatch(of: /"iat":\d+[,}]/) != nil, "\(json)")
            #expect(json.firstMatch(of: /"exp":\d+[,}]/) != nil, "\(json)")
        }
    }
}
