import AsyncHTTPClient
import DevctlCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Stack

/// A running stack seen through its dashboard's API: what `devctl watch`, in a process of its
/// own, uses to drive the supervisor (restarts, build records, its lines in the stack's log).
/// Every call carries the stack's token (read from `.devctl/run/dashboard.token`).
public struct DashboardClient: StackControl {
    let baseURL: String
    let token: String
    /// Lines are also printed here (the terminal `devctl watch` runs in).
    let echo: @Sendable (String) -> Void
    private let recordCache = RecordCache(nil)
    private typealias RecordCache = NIOLockedValueBox<(at: ContinuousClock.Instant, record: StackState.WatchRecord?)?>

    /// The dashboard of the stack `state` describes; throws, saying what to do, when the stack
    /// runs without one or its token cannot be read.
    public init(state: StackState, paths: StackPaths, echo: @escaping @Sendable (String) -> Void) throws {
        guard let url = state.dashboard else {
            throw DevctlFailure("the running stack serves no dashboard, which devctl watch talks to",
                                hint: "restart it without --no-dashboard, or use devctl up --watch")
        }
        let tokenFile = paths.runDirectory + "/dashboard.token"
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw DevctlFailure("cannot read the stack's token at \(tokenFile)", hint: "run devctl watch as the user that ran devctl up")
        }
        baseURL = url
        self.token = token
        self.echo = echo
    }

    private func post<Body: Encodable, Answer: Decodable>(_ path: String, _ body: Body, as answer: Answer.Type, timeout: Duration = .seconds(30)) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "X-Devctl-Token", value: token)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        guard response.status == .ok else {
            let message = (try? JSONDecoder().decode([String: String].self, from: Data(buffer: bytes)))?["error"] ?? String(buffer: bytes)
            throw DevctlFailure(message.isEmpty ? "the dashboard answered \(response.status.code) to \(path)" : message)
        }
        return try JSONDecoder().decode(Answer.self, from: Data(buffer: bytes))
    }

    private struct Empty: Codable {}
    private struct Ok: Decodable {}

    public func say(_ line: String) async {
        echo(line)
        _ = try? await post("/api/v1/watcher/say", WatcherLine(line: line), as: Ok.self)
    }

    public func recordBuild(_ record: StackState.BuildRecord) async {
        _ = try? await post("/api/v1/watcher/build", record, as: Ok.self)
    }

    public func recordWatch(_ record: StackState.WatchRecord?) async {
        _ = try? await post("/api/v1/watcher/watch", WatcherRecord(record: record), as: Ok.self)
    }

    public func watchRecord() async -> StackState.WatchRecord? {
        // The loop asks every 100 ms; the supervisor is asked at most twice a second.
        if let cached = recordCache.withLockedValue({ $0 }), ContinuousClock.now - cached.at < .milliseconds(500) { return cached.record }
        let record = (try? await post("/api/v1/watcher/state", Empty(), as: WatcherRecord.self))?.record
        recordCache.withLockedValue { $0 = (.now, record) }
        return record
    }

    public func restartServices(_ names: [String], executable: String, timeout: Duration) async -> [String] {
        let body = WatcherRestart(names: names, executable: executable, timeoutSeconds: Int(timeout.components.seconds))
        do {
            return try await post("/api/v1/watcher/restart", body, as: [String].self, timeout: timeout * max(1, names.count) + .seconds(30))
        } catch {
            echo("cannot restart \(names.joined(separator: ", ")): \(error)")
            return names
        }
    }

    public func buildsInUse() async -> Set<String>? {
        (try? await post("/api/v1/watcher/executables", Empty(), as: [String].self)).map(Set.init)
    }

    public func rebuildService(_ name: String) async throws {
        _ = try await post("/api/v1/watcher/rebuild", WatcherLine(line: name), as: Ok.self, timeout: .seconds(600))
    }

    public func applyConfigFile() async throws -> Supervisor.ConfigChange {
        try await post("/api/v1/watcher/apply-config", Empty(), as: Supervisor.ConfigChange.self, timeout: .seconds(300))
    }
}
