#if canImport(Glibc)
import Glibc
#endif
import Database
import DevctlCore
import Foundation
import Testing

@Suite struct EmbeddedPostgresTests {
    @Test func portTakenBySomethingElseIsNamed() async throws {
        try await TemporaryStack.with { stack in
            let listener = try TCPListener(port: stack.postgresPort)
            defer { listener.close() }
            let error = await #expect(throws: DevctlFailure.self) { try await stack.manager().initialize() }
            let message = error?.message ?? ""
            #expect(message.contains("port \(stack.postgresPort) is in use by pid \(getpid())"))
            #expect(error?.hint?.contains("postgres.port") == true)
        }
    }

    @Test func clusterBelongsToThePostgresUserWhenRoot() async throws {
        try await TemporaryStack.with { stack in
            let report = try await stack.manager().initialize()
            let dataDirectory = try #require(report.server.dataDirectory)
            let owner = try FileManager.default.attributesOfItem(atPath: dataDirectory)[.ownerAccountName] as? String
            if SystemUser.isRoot {
                #expect(owner == "postgres")
                let pid = try #require(report.server.pid)
                let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
                let postgresUID = try #require(SystemUser.named("postgres")).uid
                #expect(status.contains("Uid:\t\(postgresUID)\t"))
            } else {
                #expect(owner == NSUserName())
            }
        }
    }

    @Test(.enabled(if: SystemUser.isRoot, "only root makes the cluster change owner"))
    func unreachableCheckoutMovesTheClusterAndSaysWhy() async throws {
        try await TemporaryStack.with { stack in
            // The checkout's parent becomes 0700: the postgres user cannot reach .devctl/.
            let guarded = stack.root + "/guarded"
            try FileManager.default.createDirectory(atPath: guarded, withIntermediateDirectories: true)
            chmod(guarded, 0o700)
            let inner = TemporaryStack(root: guarded + "/repo", postgresPort: stack.postgresPort)
            try FileManager.default.createDirectory(atPath: inner.root, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: stack.root + "/devctl.yaml", toPath: inner.root + "/devctl.yaml")
            try FileManager.default.copyItem(atPath: stack.root + "/migrations", toPath: inner.root + "/migrations")
            defer { Task { await inner.destroy() } }

            let report = try await inner.manager().initialize()
            #expect(report.upToDate)
            let note = try #require(report.server.note)
            #expect(note.hasPrefix("\(guarded) (mode 700) is not traversable by the postgres user"))
            #expect(report.server.dataDirectory?.hasPrefix(EmbeddedPostgres.relocationRoot) == true)
            try await inner.manager().embedded?.purge()
        }
    }
}

/// A socket listening on a loopback port, standing in for "some other program".
final class TCPListener {
    private let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(descriptor, 8) == 0 else { throw DevctlFailure("cannot listen on \(port)") }
    }

    func close() { _ = Glibc.close(descriptor) }
}
