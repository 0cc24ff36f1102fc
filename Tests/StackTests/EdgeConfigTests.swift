import DevctlCore
import Foundation
@testable import Stack
import StackModel
import TestSupport
import Testing

@Suite struct EdgeConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let golden = repositoryRoot + "/Tests/StackTests/Golden/haproxy.cfg"

    static func repositoryConfig() throws -> StackConfig {
        try StackConfig.load(contentsOf: repositoryRoot + "/devctl.yaml")
    }

    /// The repository's devctl.yaml renders to the committed config (UPDATE_GOLDEN=edge rewrites it).
    @Test func rendersTheGoldenConfig() throws {
        let rendered = EdgeConfig(model: try Self.repositoryConfig().routeModel).render()
        try Golden.check(rendered, against: Self.golden, group: "edge")
    }

    /// HAProxy itself accepts the config (a missing haproxy fails the test: it is required).
    @Test func haproxyAcceptsTheConfig() async throws {
        let haproxy = try #require(Subprocess.findExecutable("haproxy", extraDirectories: ["/usr/sbin"]), "haproxy is not installed (apt-get install haproxy)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("edge-\(UUID().uuidString).cfg").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try EdgeConfig(model: try Self.repositoryConfig().routeModel).render().write(toFile: file, atomically: true, encoding: .utf8)
        let check = try await Subprocess(haproxy, ["-c", "-f", file], environment: [EdgeConfig.secretVariable: "a-secret-of-at-least-32-bytes-long!!"]).output()
        #expect(check.succeeded, "\(check.stderr)")
    }

    @Test func routeModelOrdersLongestPrefixFirstAndSkipsInternalServices() throws {
        let model = try Self.repositoryConfig().routeModel
        // Longest prefix first; the frontend's `/` last of all.
        #expect(model.routes.map(\.service) == ["gateway", "greeter", "custom-lang", "auth", "web"])
        #expect(model.routes.first { $0.service == "auth" }?.middlewares == [.cors, .rateLimit])
        #expect(model.tokenIssuer == "auth")
        let partial = EdgeConfig(model: model, runningServices: ["greeter", "caller"])
        #expect(partial.routes.map(\.service) == ["greeter"])
        #expect(!partial.render().contains("be_gateway"))
    }

    @Test func backoffDoublesFromHalfASecondToEight() {
        #expect((0..<7).map { Supervisor.backoff(afterCrashes: $0) } == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8),
        ])
    }

    @Test func logReaderTailsAndFollowsAcrossRotation() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: path + ".1") }
        let sink = LogSink(name: "svc", path: path, maxBytes: 64, console: nil)
        for index in 0..<5 { sink.write(line: "line \(index)") }
        #expect(LogReader.tail(path: path, lines: 2) == ["line 3", "line 4"])
        let (lines, offset) = LogReader.readNew(path: path, from: 0)
        #expect(lines.count == 5)
        for index in 5..<12 { sink.write(line: "line \(index) padded to rotate the file") }
        // Rotated: the new file is smaller than the old offset, so it is read from its start.
        #expect(FileManager.default.fileExists(atPath: path + ".1"))
        let (after, _) = LogReader.readNew(path: path, from: offset)
        #expect(after.last == "line 11 padded to rotate the file")
    }

    @Test func thePumpKeepsLinesWholeAcrossReadsAndEndsAPartialLastLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pump-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let sink = LogSink(name: "svc", path: path, console: nil)
        let done = DispatchSemaphore(value: 0)
        let pumping = Thread {
            ChildProcess.pump(readEnd, into: sink)
            done.signal()
        }
        pumping.start()
        func send(_ text: String) {
            var bytes = Array(text.utf8)
            _ = bytes.withUnsafeMutableBytes { write(writeEnd, $0.baseAddress, $0.count) }
        }
        send("first ha")
        usleep(20_000)
        send("lf\nsecond\nthi")
        usleep(20_000)
        var many = ""
        for index in 0..<10_000 { many += "line \(index)\n" }
        send("rd\n" + many)
        send("no newline at the end")
        close(writeEnd)
        #expect(done.wait(timeout: .now() + 30) == .success)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(Array(lines.prefix(3)) == ["first half", "second", "third"])
        #expect(lines.count == 3 + 10_000 + 2)
        #expect(lines[3 + 9_999] == "line 9999")
        #expect(lines[3 + 10_000] == "no newline at the end")
        #expect(lines.last == "")
    }
}
