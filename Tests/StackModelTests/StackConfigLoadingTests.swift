import Foundation
import StackModel
import Testing

/// The repository's own devctl.yaml, next to Package.swift.
let repositoryConfigPath = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("devctl.yaml").path

@Suite struct StackConfigLoadingTests {
    @Test func repositoryConfigKeepsTheSeedContract() throws {
        let config = try StackConfig.load(contentsOf: repositoryConfigPath, displayName: "devctl.yaml")
        let contract: [(String, Int, String, ServiceSpec.Kind)] = [
            ("greeter", 8080, "greeter_db", .rpc), ("caller", 8081, "caller_db", .rpc),
            ("gateway", 8082, "gateway_db", .rpc), ("auth", 8090, "auth_db", .rest),
            ("custom-lang", 3000, "lang_db", .rest),
        ]
        // The seed's five, and the frontend's static service.
        #expect(config.services.map(\.name).sorted() == (contract.map(\.0) + ["web"]).sorted())
        let web = try #require(config.service(named: "web"))
        #expect(web.port == 3001 && web.database == nil && web.expose?.pathPrefix == "/")
        #expect(web.build == ServiceSpec.BuildStep(command: ["sh", "frontend/build.sh"], watch: ["frontend/src", "frontend/index.html", "frontend/build.sh"]))
        for (name, port, database, kind) in contract {
            let service = try #require(config.service(named: name))
            #expect(service.port == port)
            #expect(service.database == database)
            #expect(service.kind == kind)
        }
        #expect(config.postgres == PostgresSettings(host: "127.0.0.1", port: 5432, user: "devuser", password: "devpass"))
        #expect(config.edge.port == 30081)
        #expect(config.dashboard.port == 10350, "Tilt's port, as the original's dashboard")
        #expect(config.service(named: "caller")?.expose == nil)
        #expect(config.service(named: "greeter")?.expose?.middlewares == [.cors, .auth, .rateLimit])
        #expect(config.service(named: "greeter")?.dependsOn == ["caller"])
    }

    @Test func wrongTypeNamesFileLineAndKey() {
        let yaml = """
            version: 1
            services:
              greeter:
                kind: rpc
                port: eighty
            """
        #expect(messages(yaml) == [#"devctl.yaml:5: services.greeter.port: expected an integer, got "eighty""#])
    }

    @Test func edgeRateLimitIsReadAndChecked() throws {
        let config = try StackConfig.load(contentsOf: repositoryConfigPath, displayName: "devctl.yaml")
        #expect(config.routeModel.rateLimit == .init(average: 100, burst: 50))
        let yaml = """
            edge:
              rate_limit: {average: 0, burst: many, per: ip}
            services:
              greeter:
                kind: rpc
                port: 8080
            """
        #expect(messages(yaml) == [
            "devctl.yaml:2: edge.rate_limit.per: unknown key; allowed: average, burst",
            "devctl.yaml:2: edge.rate_limit.average: must be a positive number of requests",
            #"devctl.yaml:2: edge.rate_limit.burst: expected an integer, got "many""#,
        ])
    }

    @Test func everyProblemIsReportedAtOnce() {
        let yaml = """
            services:
              a:
                kind: grpc
                port: 8000
              bb:
                kind: rest
                prot: 8001
            """
        #expect(messages(yaml) == [
            #"devctl.yaml:3: services.a.kind: expected one of rpc, rest, got "grpc""#,
            "devctl.yaml:7: services.bb.prot: unknown key (did you mean 'port'?); allowed: kind, port, database, migrations, depends_on, environment, health, expose, command, build",
            "devctl.yaml:5: services.bb: missing key 'port'",
        ])
    }

    @Test func duplicatePortNamesBothPlaces() {
        let yaml = """
            services:
              alpha:
                kind: rpc
                port: 9000
              beta:
                kind: rest
                port: 9000
            """
        #expect(messages(yaml) == [
            "devctl.yaml:7: services.beta.port: port 9000 is already used by services.alpha.port (devctl.yaml:4)",
        ])
    }

    @Test func aBuildStepIsReadAndChecked() throws {
        let config = try StackConfig.parse(yaml: """
            services:
              site:
                kind: rest
                port: 9100
                command: [python3, -m, http.server]
                build: {command: [sh, build.sh], watch: [site/src]}
            """)
        #expect(config.service(named: "site")?.build == ServiceSpec.BuildStep(command: ["sh", "build.sh"], watch: ["site/src"]))
        let missing = messages("services:\n  site:\n    kind: rest\n    port: 9100\n    build: {watch: [x]}\n")
        #expect(missing.contains { $0.contains("services.site.build") && $0.contains("missing key 'command'") }, "\(missing)")
    }

    @Test func dashboardPortIsReadAndClaimed() throws {
        #expect(try StackConfig.parse(yaml: "services: {}").dashboard.port == 10350)
        #expect(try StackConfig.parse(yaml: "dashboard: {port: 0}\nservices: {}").dashboard.port == 0)
        let yaml = """
            dashboard:
              port: 9000
            services:
              alpha:
                kind: rpc
                port: 9000
            """
        #expect(messages(yaml) == [
            "devctl.yaml:6: services.alpha.port: port 9000 is already used by dashboard.port (devctl.yaml:2)",
        ])
        #expect(messages("dashboard: {host: 0.0.0.0}\nservices: {}").first?.contains("host") == true)
    }

    @Test func traceSamplingBudgetIsReadAndChecked() throws {
        #expect(try StackConfig.parse(yaml: "services: {}").traces.samplePerSecond == 100)
        #expect(try StackConfig.parse(yaml: "traces: {sample_per_second: 5}\nservices: {}").traces.samplePerSecond == 5)
        let all = try StackConfig.parse(yaml: "traces: {sample_per_second: all}\nservices: {}")
        #expect(all.traces.samplePerSecond == nil)
        #expect(all.routeModel.tracesSampledPerSecond == nil)
        for bad in ["0", "-3", "lots", "2.5"] {
            #expect(messages("traces:\n  sample_per_second: \(bad)\nservices: {}") == [
                "devctl.yaml:2: traces.sample_per_second: must be a number of new traces per second from 1 to 1000000, or all",
            ], "\(bad)")
        }
    }

    @Test func portClashWithPostgresIsCaught() {
        let yaml = """
            postgres:
              port: 7000
            services:
              alpha:
                kind: rpc
                port: 7000
            """
        #expect(messages(yaml) == [
            "devctl.yaml:6: services.alpha.port: port 7000 is already used by postgres.port (devctl.yaml:2)",
        ])
    }

    @Test func postgresHostMustBeAnAddress() {
        let yaml = """
            postgres:
              host: localhost
            services: {}
            """
        #expect(messages(yaml) == [#"devctl.yaml:2: postgres.host: expected an IPv4 address such as 127.0.0.1 (the embedded cluster listens on it), got "localhost""#])
    }

    @Test func duplicateDatabaseIsCaught() {
        let yaml = """
            services:
              alpha:
                kind: rpc
                port: 9000
                database: shared_db
              beta:
                kind: rpc
                port: 9001
                database: shared_db
            """
        #expect(messages(yaml) == [
            "devctl.yaml:9: services.beta.database: database shared_db is already used by services.alpha.database (devctl.yaml:5)",
        ])
    }

    @Test func dependencyCycleIsShownAsAPath() {
        let yaml = """
            services:
              alpha:
                kind: rpc
                port: 9000
                depends_on: [beta]
              beta:
                kind: rpc
                port: 9001
                depends_on: [gamma]
              gamma:
                kind: rpc
                port: 9002
                depends_on: [alpha]
            """
        #expect(messages(yaml) == [
            "devctl.yaml:5: services.alpha.depends_on: dependency cycle: alpha → beta → gamma → alpha",
        ])
    }

    @Test func unknownDependencyListsTheServices() {
        let yaml = """
            services:
              alpha:
                kind: rpc
                port: 9000
                depends_on:
                  - beta
            """
        #expect(messages(yaml) == [
            #"devctl.yaml:6: services.alpha.depends_on[0]: unknown service "beta" (services: alpha)"#,
        ])
    }

    @Test func invalidNamesAndReservedNamesAreRefused() {
        let yaml = """
            services:
              Bad_Name:
                kind: rpc
                port: 9000
              postgres:
                kind: rpc
                port: 9001
                database: "drop table"
            """
        #expect(messages(yaml) == [
            #"devctl.yaml:2: services.Bad_Name: "Bad_Name" is not a valid service name (kebab-case: [a-z][a-z0-9-]{1,30})"#,
            #"devctl.yaml:5: services.postgres: "postgres" is reserved by devctl; choose another name"#,
            #"devctl.yaml:8: services.postgres.database: "drop table" is not a valid database name (lower-case letters, digits, _; at most 63)"#,
        ])
    }

    @Test func yamlSyntaxErrorHasALine() {
        let yaml = """
            services:
              alpha:
                kind: [rpc
                port: 9000
            """
        let found = messages(yaml)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("devctl.yaml:") == true)
        #expect(found.first?.contains("invalid YAML") == true)
    }

    @Test func badConfigurationExitsWithUsageStatus() throws {
        let error = #expect(throws: StackConfigError.self) { try StackConfig.parse(yaml: "services: 3") }
        #expect(error?.exitCode == 2)
    }

    private func messages(_ yaml: String) -> [String] {
        do {
            _ = try StackConfig.parse(yaml: yaml, file: "devctl.yaml")
            return []
        } catch let error as StackConfigError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["unexpected: \(error)"]
        }
    }
}
