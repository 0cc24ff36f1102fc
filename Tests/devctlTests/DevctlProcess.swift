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
        return "devctl"
    }()

    static func run(_ arguments: [String], in directory: String, environment: [String: String] = [:]) async throws -> Subprocess.Output {
        var environment = environment
        environment["NO_COLOR"] = environment["NO_COLOR"] ?? "1"
        // A DATABASE_URL from the caller's shell must not redirect the tests.
        environment["DATABASE_URL"] = environment["DATABASE_URL"] ?? ""
        return try await Subprocess(executable, arguments, environment: environment, workingDirectory: directory).output()
    }

    static func json(_ output: Subprocess.Output) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw DevctlFailure("stdout is not a JSON object: \(output.stdout)")
        }
        return object
    }
}
