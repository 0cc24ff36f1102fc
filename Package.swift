// swift-tools-version:6.1
import Foundation
import PackageDescription

// Each service's SQL migrations sit beside its code (Sources/Services/<Name>/Migrations); `devctl
// db` reads them, the compiler must not. Listed from the folder, so a service that `devctl new`
// adds needs no edit here.
let migrationFolders = ((try? FileManager.default.contentsOfDirectory(atPath: Context.packageDirectory + "/Sources/Services")) ?? [])
    .filter { FileManager.default.fileExists(atPath: Context.packageDirectory + "/Sources/Services/\($0)/Migrations") }
    .sorted()
    .map { "\($0)/Migrations" }

// devctl: one executable over small libraries, one per verb domain.
// `devctl` (Sources/devctl) only parses arguments and formats output; the work lives below it.
let package = Package(
    name: "devctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "devctl", targets: ["devctl"]),
        .library(name: "StackModel", targets: ["StackModel"]),
        .library(name: "Database", targets: ["Database"]),
        .library(name: "ProtoGen", targets: ["ProtoGen"]),
        .library(name: "Protos", targets: ["Protos"]),
        .library(name: "ConnectRPC", targets: ["ConnectRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // OTLP over HTTP/protobuf only: the gRPC exporter would pull in grpc-swift (minutes of build).
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .executableTarget(
            name: "devctl",
            dependencies: [
                "DevctlCore",
                "StackModel",
                "Database",
                "ProtoGen",
                "Services",
                "Stack",
                "Scaffold",
                "Manifests",
                "Telemetry",
                "DevLoop",
                "Dashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Host plumbing every verb shares: user-facing errors, subprocesses, ports, file locks.
        .target(name: "DevctlCore", dependencies: ["CProcessSpawn"]),
        // fork/exec without descriptor leaks (Foundation's Process leaks into daemons).
        .target(name: "CProcessSpawn"),
        // Line-aware YAML decoding shared by devctl.yaml and buf.gen.yaml readers.
        .target(
            name: "YAMLSupport",
            dependencies: [
                "DevctlCore",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // devctl.yaml → typed, validated stack model.
        .target(name: "StackModel", dependencies: ["DevctlCore", "YAMLSupport"]),
        // Embedded PostgreSQL lifecycle, per-service databases and migrations.
        .target(
            name: "Database",
            dependencies: [
                "DevctlCore",
                "StackModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `devctl gen`: buf.gen.yaml v2, protoc descriptors, the plugin protocol, cache.
        .target(
            name: "ProtoGen",
            dependencies: [
                "DevctlCore",
                "YAMLSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ProtoGenTests",
            dependencies: [
                "ProtoGen", "DevctlCore", "YAMLSupport", "TestSupport", "GeneratedGoldens",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ],
            exclude: ["Golden", "Node"]
        ),
        // Connect, gRPC and gRPC-Web for Hummingbird servers, and their Swift client (HTTP/1.1 and h2c).
        .target(
            name: "ConnectRPC",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "ConnectRPCTests",
            dependencies: [
                "ConnectRPC", "Protos", "DevctlCore", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            exclude: ["Peers"]
        ),
        // `up`/`down`/`status`/`logs`: the supervisor, process groups, readiness, logs, the edge.
        // Tracing: OTel bootstrap from OTEL_* (services), spans for database calls, and the OTLP
        // receiver + bounded trace store devctl runs (`devctl traces`, the dashboard).
        .target(
            name: "Telemetry",
            dependencies: [
                "DevctlCore", "Protos", "ConnectRPC",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TelemetryTests",
            dependencies: [
                "Telemetry", "Protos", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Golden"]
        ),
        // The inner loop (`up --watch`): inotify watcher, debounce, change planner (paths in,
        // actions out), build diagnostics.
        .target(
            name: "DevLoop",
            dependencies: [
                "DevctlCore", "StackModel", "Stack",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "DevLoopTests", dependencies: ["DevLoop", "StackModel", "TestSupport"]),
        // The dashboard `up` serves on 127.0.0.1:10350: one page (shipped in the binary), a JSON
        // API and Server-Sent Events over the supervisor's state, events and traces.
        .target(
            name: "Dashboard",
            dependencies: [
                "DevctlCore", "Stack", "DevLoop", "Telemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard", "Stack", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "Stack",
            dependencies: [
                "DevctlCore", "StackModel", "Database", "Telemetry",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "StackTests",
            dependencies: ["Stack", "StackModel", "DevctlCore", "TestSupport"],
            exclude: ["Golden"]
        ),
        // libgit2 through pkg-config (Debian libgit2-dev): `devctl manifests` reads the git index.
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        // `devctl manifests`: deploy modules from the git index → Kubernetes + Traefik YAML.
        .target(
            name: "Manifests",
            dependencies: [
                "CGit2", "DevctlCore", "StackModel", "YAMLSupport",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "ManifestsTests",
            dependencies: ["Manifests", "StackModel", "DevctlCore", "YAMLSupport", .product(name: "Yams", package: "Yams")],
            exclude: ["Schemas"]
        ),
        // `devctl new service`: templates/ (Mustache) → files, devctl.yaml entry, service registry.
        .target(
            name: "Scaffold",
            dependencies: [
                "DevctlCore", "StackModel", "YAMLSupport",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(
            name: "ScaffoldTests",
            dependencies: ["Scaffold", "StackModel", "DevctlCore", "TestSupport", "ScaffoldGoldenRPC", "ScaffoldGoldenREST"],
            exclude: ["Golden"]
        ),
        // The bundled services and the platform layer they share (Platform/).
        .target(
            name: "Services",
            dependencies: [
                "ConnectRPC", "Protos", "Database", "DevctlCore", "Telemetry",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: migrationFolders
        ),
        .testTarget(
            name: "ServicesTests",
            dependencies: [
                .product(name: "CompressNIO", package: "compress-nio"),
                "Services", "Database", "StackModel", "DevctlCore", "ConnectRPC", "Protos", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A server for bench/connect.sh: Connect vs a plain Hummingbird route, one process.
        .executableTarget(
            name: "ConnectBench",
            dependencies: ["ConnectRPC", "Protos", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            path: "Sources/ConnectBench"
        ),
        // Messages and Connect stubs generated from proto/ by `devctl gen` (committed; never
        // edited by hand).
        .target(
            name: "Protos",
            dependencies: [
                "ConnectRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Sources/Protos"
        ),
        // What the test targets share: golden-file checks, waiting for a condition.
        .target(name: "TestSupport", dependencies: ["DevctlCore"], path: "Tests/TestSupport"),
        // The connect-swift generator's reference output (and the messages it uses), compiled
        // with the tests: a golden that does not build fails the build, not just a comparison.
        .target(
            name: "GeneratedGoldens",
            dependencies: [
                "ConnectRPC",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "Tests/GeneratedGoldens"
        ),
        // The Swift services `devctl new` renders (its golden files, with the code `gen` makes
        // for their proto), compiled with the tests: a template that renders code that does not
        // build fails the build.
        .target(
            name: "ScaffoldGoldenRPC",
            dependencies: [
                "Services", "ConnectRPC", "Protos",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/ScaffoldTests/Golden/swift-rpc/Sources",
            exclude: ["Services/ServiceRegistry.swift", "Services/BillingApi/Migrations"],
            // In the repository these files are part of the Services module; here they import it.
            swiftSettings: [.unsafeFlags(["-Xfrontend", "-import-module", "-Xfrontend", "Services"])]
        ),
        .target(
            name: "ScaffoldGoldenREST",
            dependencies: [
                "Services",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/ScaffoldTests/Golden/swift-rest/Sources",
            exclude: ["Services/ServiceRegistry.swift", "Services/BillingApi/Migrations"],
            swiftSettings: [.unsafeFlags(["-Xfrontend", "-import-module", "-Xfrontend", "Services"])]
        ),
        .testTarget(name: "DevctlCoreTests", dependencies: ["DevctlCore"]),
        .testTarget(name: "YAMLSupportTests", dependencies: ["YAMLSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "StackModelTests", dependencies: ["StackModel"]),
        .testTarget(
            name: "DatabaseTests",
            dependencies: [
                "Database", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // End-to-end tests of the built `devctl` executable (exit codes, --json, concurrency).
        .testTarget(
            name: "devctlTests",
            dependencies: [
                "devctl", "DevctlCore", "Protos", "Database", "StackModel", "Stack", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Peers", "Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
