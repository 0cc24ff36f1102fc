import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Services
import Testing

/// billing-api's example RPC, in-process, against a real PostgreSQL.
@Suite struct BillingApiServiceTests {
    @Test func helloGreetsByName() async throws {
        try await ServiceDatabaseFixture.with(service: "billing-api", database: "billing_api_db", migrations: "Sources/Services/BillingApi/Migrations") { fixture in
            try await Self.check(environment: ["DATABASE_URL": fixture.databaseURL], expectedCount: "1")
        }
    }

    static func check(environment: [String: String], expectedCount: String) async throws {
        var logger = Logger(label: "billing-api-test")
        logger.logLevel = .warning
        let platform = try ServicePlatform(settings: BillingApiService.settings(environment: environment), logger: logger)
        let router = platform.makeRouter()
        BillingApiService(platform: platform).addRoutes(to: router)
        try await platform.makeApplication(router: router).test(.router) { client in
            let response = try await client.execute(
                uri: "/billing_api.v1.BillingApiService/Hello", method: .post,
                headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"name":"Ada"}"#)
            )
            #expect(response.status == .ok)
            let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
            #expect(object?["message"] as? String == "Hello Ada!")
            #expect((object?["count"] as? String ?? "0") == expectedCount)
        }
    }
}
