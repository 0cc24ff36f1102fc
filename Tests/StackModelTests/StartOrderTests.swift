import StackModel
import Testing

@Suite struct StartOrderTests {
    let config = try! StackConfig.parse(yaml: """
        services:
          web:
            kind: rest
            port: 9000
            depends_on: [api]
          api:
            kind: rpc
            port: 9001
            depends_on: [store, cache]
          store:
            kind: rpc
            port: 9002
          cache:
            kind: rpc
            port: 9003
          lonely:
            kind: rpc
            port: 9004
        """)

    @Test func dependenciesComeFirst() throws {
        let order = try config.startOrder().map(\.name)
        #expect(order == ["store", "cache", "api", "web", "lonely"])
    }

    @Test func namingAServiceBringsItsDependencies() throws {
        #expect(try config.startOrder(of: ["api"]).map(\.name) == ["store", "cache", "api"])
        #expect(try config.startOrder(of: ["api"], includeDependencies: false).map(\.name) == ["api"])
    }

    @Test func unknownServiceIsABadUsageError() {
        let error = #expect(throws: UnknownServiceError.self) { try config.startOrder(of: ["nope"]) }
        #expect(error?.exitCode == 2)
        #expect(error?.hint?.contains("web, api, store, cache, lonely") == true)
    }
}
