import DevctlCore
import Foundation
import Testing

@Suite struct FileLockTests {
    @Test func secondHolderWaitsUntilTheFirstReleases() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-lock-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try await FileLock.acquire(at: path)
        // Another process holding the lock: flock(1) from util-linux, with a short timeout.
        let blocked = try await Subprocess("/usr/bin/flock", ["-n", path, "true"]).output()
        #expect(blocked.status != 0)
        await #expect(throws: DevctlFailure.self) { _ = try await FileLock.acquire(at: path, timeout: .milliseconds(100)) }
        first.release()
        let free = try await Subprocess("/usr/bin/flock", ["-n", path, "true"]).output()
        #expect(free.status == 0)
    }
}
