import Foundation
import StackModel
import Testing
@testable import DevLoop

/// The planner is pure: files in, actions out — no processes needed to test it.
@Suite struct ChangePlannerTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// The repository's own stack and this package's targets (as `swift package describe` says).
    static let planner: ChangePlanner = {
        let config = try! StackConfig.load(contentsOf: repositoryRoot + "/devctl.yaml")
        let targets = [
            BuildTarget(name: "devctl", path: "Sources/devctl", dependencies: ["DevctlCore", "StackModel", "Database", "ProtoGen", "Services", "Stack", "Scaffold", "Manifests", "Telemetry"]),
            BuildTarget(name: "Services", path: "Sources/Services", dependencies: ["ConnectRPC", "Protos", "Database", "DevctlCore", "Telemetry"]),
            BuildTarget(name: "Stack", path: "Sources/Stack", dependencies: ["DevctlCore", "StackModel", "Database", "Telemetry"]),
            BuildTarget(name: "Telemetry", path: "Sources/Telemetry", dependencies: ["DevctlCore", "Protos"]),
            BuildTarget(name: "Protos", path: "Sources/Protos", dependencies: ["ConnectRPC"]),
            BuildTarget(name: "ConnectRPC", path: "Sources/ConnectRPC", dependencies: []),
            BuildTarget(name: "Database", path: "Sources/Database", dependencies: ["DevctlCore", "StackModel"]),
            BuildTarget(name: "StackModel", path: "Sources/StackModel", dependencies: ["DevctlCore", "YAMLSupport"]),
            BuildTarget(name: "YAMLSupport", path: "Sources/YAMLSupport", dependencies: ["DevctlCore"]),
            BuildTarget(name: "DevctlCore", path: "Sources/DevctlCore", dependencies: ["CProcessSpawn"]),
            BuildTarget(name: "CProcessSpawn", path: "Sources/CProcessSpawn", dependencies: []),
            BuildTarget(name: "Scaffold", path: "Sources/Scaffold", dependencies: ["DevctlCore", "StackModel", "YAMLSupport"]),
            BuildTarget(name: "ServicesTests", path: "Tests/ServicesTests", dependencies: ["Services"]),
        ]
        return ChangePlanner(config: config, targets: targets)
    }()
    static let everyService = ["caller", "greeter", "custom-lang", "gateway", "auth", "web"]

    @Test func aServiceFolderRestartsThatServiceOnly() {
        let plan = Self.planner.plan(["Sources/Services/Greeter/GreeterService.swift"])
        #expect(plan.build)
        #expect(plan.restart == ["greeter"])
        #expect(!plan.supervisorChanged && !plan.regenerate && !plan.configChanged && plan.migrate.isEmpty)
        #expect(Self.planner.plan(["Sources/Services/CustomLang/CustomLangService.swift"]).restart == ["custom-lang"])
    }

    @Test func sharedCodeRestartsEveryServiceInDependencyOrder() {
        for path in ["Sources/Services/Platform/ServicePlatform.swift", "Sources/ConnectRPC/ConnectClient.swift", "Sources/Services/ServiceRegistry.swift"] {
            let plan = Self.planner.plan([path])
            #expect(plan.build, "\(path)")
            #expect(Set(plan.restart) == Set(Self.everyService), "\(path)")
            // caller before greeter: greeter depends on it.
            #expect((plan.restart.firstIndex(of: "caller") ?? 99) < (plan.restart.firstIndex(of: "greeter") ?? -1), "\(plan.restart)")
            #expect(!plan.supervisorChanged, "\(path)")
        }
    }

    @Test func theSupervisorsOwnCodeSaysUpMustRestart() {
        let plan = Self.planner.plan(["Sources/Stack/Supervisor.swift"])
        #expect(plan.build && plan.supervisorChanged)
        #expect(plan.restart.isEmpty)
        // Shared by both: the services restart and the supervisor is told.
        let both = Self.planner.plan(["Sources/DevctlCore/Subprocess.swift"])
        #expect(both.supervisorChanged && Set(both.restart) == Set(Self.everyService))
    }

    @Test func protosRegenerateBuildAndRestart() {
        let plan = Self.planner.plan(["proto/greeter/v1/greeter.proto"])
        #expect(plan.regenerate && plan.build)
        #expect(Set(plan.restart) == Set(Self.everyService))
    }

    @Test func configAndMigrations() {
        #expect(Self.planner.plan(["devctl.yaml"]).configChanged)
        #expect(Self.planner.plan(["devctl.yaml"]).restart.isEmpty)
        let migration = Self.planner.plan(["Sources/Services/Greeter/Migrations/0009_new.sql"])
        #expect(migration.migrate == ["greeter"])
        #expect(!migration.build && migration.restart.isEmpty)
    }

    @Test func noiseAndFilesThatRunNothing() {
        let plan = Self.planner.plan([
            ".build/debug/devctl", ".devctl/logs/greeter.log", ".git/index", "Sources/Services/Greeter/.GreeterService.swift.swp",
            "Sources/Services/Greeter/GreeterService.swift~", "4913", "Sources/.#lock",
        ])
        #expect(plan.isEmpty)
        #expect(plan.unaffected.isEmpty)
        let harmless = Self.planner.plan(["README.md", "templates/swift-rpc/Service.swift.mustache", "Tests/ServicesTests/GreeterServiceTests.swift"])
        #expect(harmless.isEmpty)
        #expect(harmless.unaffected.count == 3)
    }

    @Test func aBatchIsOnePlan() {
        let plan = Self.planner.plan(["Sources/Services/Greeter/GreeterService.swift", "Sources/Services/Auth/AuthService.swift",
                                      "Sources/Services/Greeter/GreeterService.swift", "devctl.yaml"])
        #expect(plan.restart == ["greeter", "auth"] || plan.restart == ["auth", "greeter"])
        #expect(plan.configChanged)
    }

    /// The kernel dropped events: what changed is unknown, so everything is rebuilt and restarted.
    @Test func lostEventsRebuildEverything() {
        let plan = Self.planner.plan([FileWatcher.eventsLost])
        #expect(plan.build && plan.supervisorChanged)
        #expect(Set(plan.restart) == Set(Self.everyService))
    }

    @Test func folderNames() {
        #expect(ChangePlanner.folderName(of: "custom-lang") == "CustomLang")
        #expect(ChangePlanner.folderName(of: "greeter") == "Greeter")
        #expect(ChangePlanner.folderName(of: "billing-api") == "BillingApi")
    }
}

@Suite struct DebouncerTests {
    @Test func aBurstIsOneBatchOnceQuiet() {
        var debouncer = Debouncer(quiet: .milliseconds(100), maxWait: .seconds(2))
        let start = ContinuousClock.now
        for step in 0..<5 { debouncer.record("a.swift", at: start.advanced(by: .milliseconds(20 * step))) }
        debouncer.record("b.swift", at: start.advanced(by: .milliseconds(90)))
        #expect(debouncer.take(at: start.advanced(by: .milliseconds(150))) == nil)
        #expect(debouncer.take(at: start.advanced(by: .milliseconds(190))) == ["a.swift", "b.swift"])
        #expect(debouncer.deadline == nil)
        #expect(debouncer.take(at: start.advanced(by: .seconds(10))) == nil)
    }

    @Test func constantWritesStillTriggerAtTheCap() {
        var debouncer = Debouncer(quiet: .milliseconds(100), maxWait: .milliseconds(500))
        let start = ContinuousClock.now
        var batches: [[String]] = []
        for step in 0..<100 {
            let now = start.advanced(by: .milliseconds(50 * step))
            debouncer.record("log.swift", at: now)
            if let batch = debouncer.take(at: now) { batches.append(batch) }
        }
        // 5 s of writes every 50 ms (never quiet for 100 ms): about one batch per 500 ms.
        #expect((9...10).contains(batches.count), "\(batches.count)")
    }
}

@Suite struct BuildDiagnosticsTests {
    @Test func errorsOnceWithRelativePaths() {
        let output = """
            Building for debugging...
            /repo/Sources/Services/Greeter/GreeterService.swift:42:17: error: cannot find 'mesage' in scope
            /repo/Sources/Services/Greeter/GreeterService.swift:42:17: error: cannot find 'mesage' in scope
             40 |     func greet() {
             41 |         let x = 1
            /repo/Sources/Services/Greeter/GreeterService.swift:12:5: warning: variable 'x' was never used
            /repo/Sources/Services/Auth/AuthService.swift:7:1: error: expected declaration
            error: fatalError
            [3/5] Compiling Services GreeterService.swift
            /elsewhere/File.swift:1:2: error: outside the repository
            """
        let diagnostics = BuildDiagnostics.parse(output, repositoryRoot: "/repo")
        #expect(diagnostics.map(\.description) == [
            "Sources/Services/Greeter/GreeterService.swift:42:17: error: cannot find 'mesage' in scope",
            "Sources/Services/Auth/AuthService.swift:7:1: error: expected declaration",
            "/elsewhere/File.swift:1:2: error: outside the repository",
            "Sources/Services/Greeter/GreeterService.swift:12:5: warning: variable 'x' was never used",
        ])
    }

    /// The frontend's sources: web's build step runs again (then web restarts); no Swift build.
    @Test func aFrontendChangeRebuildsOnlyTheFrontend() {
        let plan = ChangePlannerTests.planner.plan(["frontend/src/features/greeter/Greeter.tsx", "frontend/index.html"])
        #expect(plan.serviceBuilds == ["web"])
        #expect(!plan.build && plan.restart.isEmpty && !plan.supervisorChanged)
        // Its output is not an input: a build never triggers another.
        #expect(ChangePlannerTests.planner.plan(["frontend/dist/assets/app-X.js", "frontend/dist/index.html"]).isEmpty)
    }
}
