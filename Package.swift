// swift-tools-version:6.1
import PackageDescription

// devctl: one executable over small libraries, one per verb domain.
// `devctl` (Sources/devctl) only parses arguments and formats output; the work lives below it.
let package = Package(
    name: "devctl",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "devctl", targets: ["devctl"]),
        .library(name: "StackModel", targets: ["StackModel"]),
        .library(name: "Database", targets: ["Database"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .executableTarget(
            name: "devctl",
            dependencies: [
                "DevctlCore",
                "StackModel",
                "Database",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Host plumbing every verb shares: user-facing errors, subprocesses, ports, file locks.
        .target(name: "DevctlCore", dependencies: ["CProcessSpawn"]),
        // fork/exec without descriptor leaks (Foundation's Process leaks into daemons).
        .target(name: "CProcessSpawn"),
        // devctl.yaml → typed, validated stack model.
        .target(
            name: "StackModel",
            dependencies: [
                "DevctlCore",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
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
        .testTarget(name: "DevctlCoreTests", dependencies: ["DevctlCore"]),
        .testTarget(name: "StackModelTests", dependencies: ["StackModel"]),
        .testTarget(
            name: "DatabaseTests",
            dependencies: [
                "Database",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // End-to-end tests of the built `devctl` executable (exit codes, --json, concurrency).
        .testTarget(name: "devctlTests", dependencies: ["devctl", "DevctlCore"]),
    ],
    swiftLanguageModes: [.v6]
)
