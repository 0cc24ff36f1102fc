import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Services
import Testing

/// billing-api's routes, in-process, against a real PostgreSQL.
@Suite struct BillingApiServiceTests {
    @Test func itemsRoundTrip() async throws {
        try await ServiceDatabaseFixture.with(service: "billing-api", database: "billing_api_db", migrations: "Sources/Services/BillingApi/Migrations") { fixture in
            try await Self.check(environment: ["DATABASE_URL": fixture.databaseURL], expected: ["Ada"])
        }
    }

    static func check(environment: [String: String], expected: [String]) async throws {
        var logger = Logger(label: "billing-api-test")
        logger.logLevel = .warning
        let platform = try ServicePlatform(settings: BillingApiService.settings(environment: environment), logger: logger)
        let router = platform.makeRouter()
        BillingApiService(platform: platform).addRoutes(to: router)
        try await platform.makeApplication(router: router).test(.router) { client in
            let created = try await client.execute(uri: "/billing-api/items", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"name":"Ada"}"#))
            #expect(created.status == .created)
            #expect(try await client.execute(uri: "/billing-api/items", method: .post, body: ByteBuffer(string: "not json")).status == .badRequest)
            let list = try await client.execute(uri: "/billing-api/items", method: .get)
            let object = try JSONSerialization.jsonObject(with: Data(buffer: list.body)) as? [String: Any]
            #expect(object?["items"] as? [String] == expected)
        }
    }
}
