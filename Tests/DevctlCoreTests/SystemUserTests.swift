import DevctlCore
import Foundation
import Testing

@Suite struct SystemUserTests {
    @Test func findsTheFirstFolderAnotherUserCannotEnter() throws {
        let nobody = try #require(SystemUser.named("nobody"))
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("devctl-perm-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base + "/closed/inner", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        chmod(base, 0o755)
        chmod(base + "/closed", 0o700)
        #expect(nobody.firstUntraversableDirectory(on: base)?.path == nil)
        let blocked = nobody.firstUntraversableDirectory(on: base + "/closed/inner/.devctl")
        #expect(blocked?.path == base + "/closed")
        #expect(blocked?.mode == "700")
    }

    @Test func unknownUserIsNil() {
        #expect(SystemUser.named("no-such-user-devctl") == nil)
    }
}
