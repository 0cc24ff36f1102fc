// swift-tools-version:6.1
import PackageDescription

// A bare Hummingbird 2 server for bench/greet-vs-go.sh: one GET /healthz route and nothing else
// (no request log, metrics, database or router middleware), the floor that a service's own
// /healthz is compared with. A measuring tool; not part of devctl. Built by the script in release
// with its own scratch path (bench/bare-hummingbird/.build, gitignored).
let package = Package(
    name: "bare-hummingbird",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "bare-hummingbird",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
