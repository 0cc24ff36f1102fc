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

    private func withService(ttl: String = "1h", _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await ServiceDatabaseFixture.with(service: "auth", database: "auth_db", migrations: "Sources/Services/Auth/Migrations") { fixture in
            var logger = Logger(label: "auth-test")
            logger.logLevel = .warning
            let platform = try ServicePlatform(
                settings: AuthService.settings(environment: ["DATABASE_URL": fixture.databaseURL, "JWT_SECRET": Self.secret, "JWT_TTL": ttl]),
                logger: logger
            )
            let service = try await AuthService.make(platform: platform)
            let router = platform.makeRouter()
            service.addRoutes(to: router)
            try await platform.makeApplication(router: router).test(.router) { client in try await body(client) }
        }
    }

    private func post(_ client: any TestClientProtocol, _ path: String, _ json: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        let response = try await client.execute(uri: path, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
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
        try await withService(ttl: "1s") { client in
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

            // Expiry is enforced.
            #expect(try await get(client, "/auth/verify", token: token).status == .ok)
            try await Task.sleep(for: .milliseconds(2200))
            #expect(try await get(client, "/auth/verify", token: token).status == .unauthorized)
        }
    }

    @Test func shortSecretIsRefusedAtStartup() async throws {
        var logger = Logger(label: "auth-test")
        logger.logLevel = .critical
        let platform = try ServicePlatform(settings: AuthService.settings(environment: ["JWT_SECRET": "too-short"]), logger: logger)
        let error = await #expect(throws: ServiceStartupError.self) { _ = try await AuthService.make(platform: platform) }
        #expect(error?.description == "auth: JWT_SECRET is 9 bytes; HS256 needs at least 32 (RFC 7518 §3.2). Set a longer JWT_SECRET")
    }
}
