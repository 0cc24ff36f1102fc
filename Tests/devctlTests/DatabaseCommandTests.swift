import DevctlCore
import Foundation
import TestSupport
import Testing

/// `devctl db …` end to end, against the embedded cluster the command itself starts.
@Suite struct DatabaseCommandTests {
    /// A repository with one service on a free PostgreSQL port.
    private func makeRepository() throws -> (root: String, port: Int) {
        let root = try TemporaryFolder.make()
        let port = try FreePorts.take()
        try """
            postgres:
              port: \(port)
            services:
              notes:
                kind: rest
                port: 19101
                database: notes_db
                migrations: db/notes
            """.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/db/notes", withIntermediateDirectories: true)
        try "CREATE TABLE notes (id int);".write(toFile: root + "/db/notes/0001_notes.sql", atomically: true, encoding: .utf8)
        return (root, port)
    }

    /// Runs `body` in a fresh repository; stops its cluster and deletes it afterwards.
    private func withRepository(_ body: (String, Int) async throws -> Void) async throws {
        let (root, port) = try makeRepository()
        do {
            try await body(root, port)
        } catch {
            _ = try? await DevctlProcess.run(["db", "stop"], in: root)
            TemporaryFolder.remove(root)
            throw error
        }
        _ = try? await DevctlProcess.run(["db", "stop"], in: root)
        TemporaryFolder.remove(root)
    }

    @Test func initStatusAndStopSpeakJSON() async throws {
        try await withRepository { root, port in

        let first = try await DevctlProcess.run(["db", "init", "--json"], in: root)
        #expect(first.status == 0, "\(first.stderr)")
        let report = try DevctlProcess.json(first)
        #expect(report["changed"] as? Bool == true)

        let second = try await DevctlProcess.run(["db", "init"], in: root)
        #expect(second.status == 0)
        #expect(second.stdout.contains("nothing to do"))

        let status = try await DevctlProcess.run(["db", "status", "--json"], in: root)
        #expect(status.status == 0)
        let shape = try DevctlProcess.json(status)
        #expect(Set(shape.keys) == ["server", "databases", "changed", "upToDate"])
        let server = try #require(shape["server"] as? [String: Any])
        #expect(server["mode"] as? String == "embedded")
        #expect(server["address"] as? String == "127.0.0.1:\(port)")
        #expect(server["state"] as? String == "running")
        let databases = try #require(shape["databases"] as? [[String: Any]])
        #expect(databases.count == 1)
        let notes = try #require(databases.first)
        #expect(notes["service"] as? String == "notes")
        #expect(notes["database"] as? String == "notes_db")
        #expect(notes["exists"] as? Bool == true)
        #expect(notes["applied"] as? Int == 1)
        #expect(notes["pending"] as? [String] == [])
        #expect(notes["drifted"] as? [String] == [])

        // A pending migration makes status fail, for CI scripts.
        try "CREATE TABLE more (id int);".write(toFile: root + "/db/notes/0002_more.sql", atomically: true, encoding: .utf8)
        let pending = try await DevctlProcess.run(["db", "status"], in: root)
        #expect(pending.status == 1)
        #expect(pending.stdout.contains("pending: 0002_more"))

        let stop = try await DevctlProcess.run(["db", "stop", "--json"], in: root)
        #expect(stop.status == 0)
        #expect(try DevctlProcess.json(stop)["stopped"] as? Bool == true)
        #expect(PortProbe.isFree(port))
        }
    }

    @Test func twoMigrateProcessesAtOnceBothSucceedAndApplyOnce() async throws {
        try await withRepository { root, _ in
        let initialised = try await DevctlProcess.run(["db", "init"], in: root)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        try "SELECT pg_sleep(0.5);\nCREATE TABLE slow (id int);".write(toFile: root + "/db/notes/0002_slow.sql", atomically: true, encoding: .utf8)

        async let first = DevctlProcess.run(["db", "migrate", "--json"], in: root)
        async let second = DevctlProcess.run(["db", "migrate", "--json"], in: root)
        let outputs = try await [first, second]
        #expect(outputs.map(\.status) == [0, 0], "\(outputs.map(\.stderr))")
        let applied = try outputs.map { output -> Int in
            let databases = try DevctlProcess.json(output)["databases"] as? [[String: Any]]
            return (databases?.first?["newlyApplied"] as? [Any])?.count ?? -1
        }
        #expect(applied.sorted() == [0, 1])
        let status = try DevctlProcess.json(try await DevctlProcess.run(["db", "status", "--json"], in: root))
        #expect((status["databases"] as? [[String: Any]])?.first?["applied"] as? Int == 2)
        }
    }

    @Test func twoInitProcessesFromNothingBothSucceed() async throws {
        // Both race to initdb and start the same cluster: the file lock makes one wait.
        try await withRepository { root, _ in
        async let first = DevctlProcess.run(["db", "init", "--json"], in: root)
        async let second = DevctlProcess.run(["db", "init", "--json"], in: root)
        let outputs = try await [first, second]
        #expect(outputs.map(\.status) == [0, 0], "\(outputs.map(\.stderr))")
        let initialised = try outputs.map { try (DevctlProcess.json($0)["server"] as? [String: Any])?["initialized"] as? Bool }
        #expect(initialised.compactMap { $0 }.sorted { !$0 && $1 } == [false, true])
        }
    }
}
