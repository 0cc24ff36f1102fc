import AsyncHTTPClient
import Crypto
import Database
import DevctlCore
import Foundation
import Testing
import TestSupport
import Logging
import NIOCore
import NIOHTTP1
import StackModel

/// A copy of the repository's stack in a temp folder, every port (PostgreSQL, services, edge)
/// moved to a free one, so `devctl up` runs beside a dev stack and other tests.
struct StackFixture {
    let root: String
    /// Repository port → the fixture's port.
    let ports: [Int: Int]
    /// Holds one of the process-wide PostgreSQL slots (``TestSlots/postgresClusters``, released
    /// by ``tearDown()``): a whole stack (PostgreSQL, six services, the edge, a supervisor) is
    /// one more cluster, and more at once would starve the in-process tests beside them, whose
    /// database deadlines are seconds.
    var holdsSlot = false


    static let devPorts = [5432, 8080, 8081, 8082, 8090, 3000, 3001, 30081, 4318, 10350]

    static func make() throws -> StackFixture {
        let root = try TemporaryFolder.make()
        // All different (the dev stack's ten ports, each moved to its own free one).
        let ports = Dictionary(uniqueKeysWithValues: zip(devPorts, try FreePorts.take(devPorts.count)))
        // One pass over whole numbers after `port: ` or `:`, so a new port is never rewritten again.
        let original = try String(contentsOfFile: repositoryRoot + "/devctl.yaml", encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: #"(port: |:)(\d+)\b"#)
        var yaml = ""
        var last = original.startIndex
        for match in pattern.matches(in: original, range: NSRange(original.startIndex..., in: original)) {
            guard let numberRange = Range(match.range(at: 2), in: original), let number = Int(original[numberRange]) else { continue }
            yaml += original[last..<numberRange.lowerBound] + String(ports[number] ?? number)
            last = numberRange.upperBound
        }
        yaml += original[last...]
        try yaml.write(toFile: root + "/devctl.yaml", atomically: true, encoding: .utf8)
        // The frontend's sources: `up` builds them for the web service.
        for item in ["frontend/build.sh", "frontend/index.html", "frontend/src"] {
            try FileManager.default.createDirectory(atPath: root + "/frontend", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: repositoryRoot + "/" + item, toPath: root + "/" + item)
        }
        for service in ["Greeter", "Caller", "Gateway", "Auth", "CustomLang"] {
            let folder = "Sources/Services/\(service)/Migrations"
            try FileManager.default.createDirectory(atPath: root + "/Sources/Services/\(service)", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: repositoryRoot + "/" + folder, toPath: root + "/" + folder)
        }
        return StackFixture(root: root, ports: ports, holdsSlot: false)
    }

    func port(_ devPort: Int) -> Int { ports[devPort] ?? devPort }

    /// A fixture whose stack `arguments` (an `up -d …`) started. Its ports were free when chosen,
    /// but another test's server can take one before `up` binds it: then `up` refuses with "in
    /// use" and nothing started, and a fresh fixture (new ports) tries again, at most three times.
    static func started(_ arguments: [String], environment: [String: String] = [:],
                        prepare: (StackFixture) async throws -> Void = { _ in }) async throws -> (StackFixture, Subprocess.Output) {
        for attempt in 1...3 {
            var fixture = try make()
            try await prepare(fixture)
            await TestSlots.postgresClusters.acquire()
            fixture.holdsSlot = true
            let up = try await fixture.devctl(arguments, environment: environment)
            if up.status != 0, FreePorts.wasTaken(up.stderr), attempt < 3 {
                await fixture.tearDown()
                continue
            }
            return (fixture, up)
        }
        throw DevctlFailure("unreachable")
    }
    /// Runs `body` on a stack `up -d` started (with `extraArguments` and `environment`, after
    /// `prepare` set up the fixture's files); on failure the processes' last log lines are
    /// attached; the stack is always torn down.
    static func withStarted(_ extraArguments: [String] = [], environment: [String: String] = [:],
                            prepare: (StackFixture) async throws -> Void = { _ in },
                            _ body: (StackFixture, Subprocess.Output) async throws -> Void) async throws {
        let (fixture, up) = try await started(["up", "-d", "--timeout", "90"] + extraArguments, environment: environment, prepare: prepare)
        do {
            try await body(fixture, up)
        } catch {
            let logs = try? await fixture.devctl(["logs", "--tail", "20"])
            Issue.record("stack logs:\n\(logs?.stdout ?? "")")
            await fixture.tearDown()
            throw error
        }
        await fixture.tearDown()
    }

    var edge: String { "http://127.0.0.1:\(port(30081))" }

    func devctl(_ arguments: [String], environment: [String: String] = [:]) async throws -> Subprocess.Output {
        try await DevctlProcess.run(arguments, in: root, environment: environment)
    }

    /// Always stops whatever is left and deletes the folder.
    func tearDown() async {
        _ = try? await devctl(["down", "--purge", "--yes", "--timeout", "2"])
        TemporaryFolder.remove(root)
        if holdsSlot { await TestSlots.postgresClusters.release() }
    }

    func scalar(_ sql: String, in database: String) async throws -> String? {
        var logger = Logger(label: "fixture")
        logger.logLevel = .critical
        let manager = try DatabaseManager(config: StackConfig.load(contentsOf: root + "/devctl.yaml"), repositoryRoot: root, logger: logger)
        return try await manager.scalar("SELECT (\(sql))::text", in: database)
    }

    // MARK: HTTP

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
    }

    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2)))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// `path` on the edge, or on `origin` (a service's own `http://127.0.0.1:PORT`).
    func request(_ method: HTTPMethod = .POST, _ path: String, json: String? = nil, headers: [String: String] = [:], timeout: Duration = .seconds(10),
                 origin: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: (origin ?? edge) + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.http.execute(request, timeout: .nanoseconds(timeout.components.seconds * 1_000_000_000))
        } catch ChannelError.ioOnClosedChannel {
            // A pooled connection the edge had just closed (HAProxy ends idle keep-alive
            // connections after 10 s): the request was never written, so sending it again is safe.
            response = try await Self.http.execute(request, timeout: .nanoseconds(timeout.components.seconds * 1_000_000_000))
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), headers: fields, body: String(buffer: body))
    }

    /// An HS256 token signed with the dev secret, with chosen claims (for expired/forged tokens).
    static func token(claims: [String: Any], secret: String = "dev-secret-change-me-at-least-32-bytes!", algorithm: String = "HS256") throws -> String {
        func encode(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let header = encode(try JSONSerialization.data(withJSONObject: ["alg": algorithm, "typ": "JWT"]))
        let payload = encode(try JSONSerialization.data(withJSONObject: claims))
        let signature = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(header).\(payload).\(algorithm == "none" ? "" : encode(Data(signature)))"
    }
}
