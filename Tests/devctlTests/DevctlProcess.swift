import DevctlCore
import Foundation

/// Runs the built `devctl` executable, as a user or CI would.
enum DevctlProcess {
    /// The `devctl` binary built beside this test bundle.
    static let executable: String = {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: testBinary).deletingLastPathComponent()
        // On Linux the test runner is `.build/<triple>/debug/devctlPackageTests.xctest`.
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("devctl").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        // Never whatever `devctl` is on PATH: a stale binary would be tested instead of this build.
        fatalError("the devctl binary built beside the test bundle (\(testBinary)) was not found: run swift build first")
    }()

    /// The environment devctl runs with: only what a process needs to find its tools (PATH, HOME,
    /// the locale), never the developer's settings (`DEVCTL_CONFIG`, an exported `JWT_SECRET` or
    /// `DATABASE_URL`, `UPDATE_GOLDEN` …), plus `environment`.
    static func cleanEnvironment(_ environment: [String: String]) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        // A dashboard on any free port: never the dev stack's 10350, never another test's.
        var clean: [String: String] = ["NO_COLOR": "1", "DEVCTL_DASHBOARD_PORT": "0"]
        for key in ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"] { clean[key] = inherited[key] }
        return clean.merging(environment) { $1 }
    }

    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> Subprocess.Output {
        var process = Subprocess(executable, arguments, environment: cleanEnvironment(environment), workingDirectory: directory)
        process.inheritsEnvironment = false
        return try await process.output()
    }

    static func json(_ output: Subprocess.Output) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw DevctlFailure("stdout is not a JSON object: \(output.stdout)")
        }
        return object
    }
}
