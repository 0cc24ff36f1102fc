import ConnectRPC
import DevctlCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Services
import TestSupport

/// Services on real sockets (free ports), for cross-service tests.
enum Live {
    static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        return logger
    }

    /// Serves a platform's router plus `routes` on a free port; `body` gets its base URL.
    static func serve(_ platform: ServicePlatform, warm: Bool = true, routes: (Router<BasicRequestContext>) -> Void,
                      _ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = platform.makeRouter()
        routes(router)
        try await platform.makeApplication(router: router).test(.live) { client in
            guard let port = client.port else { throw TestFailure("the live server has no port") }
            if warm { await warmUp(platform) }
            try await body("http://127.0.0.1:\(port)")
        }
    }

    /// Waits until the service's pool has a working connection: the first one (SCRAM in a debug
    /// build, on a loaded machine) can take longer than a request's 3 s database budget, which
    /// is a property of the test machine, not of the code under test.
    static func warmUp(_ platform: ServicePlatform) async {
        guard platform.settings.usesDatabase else { return }
        _ = await eventually(.seconds(60), every: .milliseconds(100)) { await platform.isDatabaseReady() }
    }

    /// A base URL nothing listens on, for the whole test run: the port is held closed (bound,
    /// never listening), so connections are refused and nothing else can take it meanwhile.
    static func deadURL() -> String { closedPort.url }

    private static let closedPort: ClosedPort = {
        do { return try ClosedPort() } catch { fatalError("cannot hold a closed loopback port: \(error)") }
    }()
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An HTTP server standing in for the outside world: fixed bodies, slow answers, redirects,
/// chosen statuses, and a count of requests (to prove a refused URL was never contacted).
struct TargetServer {
    let hits = NIOLockedValueBox(0)

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let hits = self.hits
        router.middlewares.add(CountingMiddleware(hits: hits))
        router.get("/ok") { _, _ in ByteBuffer(repeating: UInt8(ascii: "x"), count: 1234) }
        router.get("/slow") { _, _ -> String in
            try await Task.sleep(for: .seconds(2))
            return "late"
        }
        router.get("/big") { _, _ -> Response in
            Response(status: .ok, body: ResponseBody { writer in
                for _ in 0..<64 { try await writer.write(ByteBuffer(repeating: 0x61, count: 32 * 1024)) }
                try await writer.finish(nil)
            })
        }
        // Never ends (until the client hangs up): only a reader that counts as it goes stops.
        router.get("/endless") { _, _ -> Response in
            Response(status: .ok, body: ResponseBody { writer in
                while true { try await writer.write(ByteBuffer(repeating: 0x62, count: 32 * 1024)) }
            })
        }
        router.get("/redirect") { request, _ -> Response in
            Response(status: .found, headers: [.location: request.uri.queryParameters["to"].map(String.init) ?? "/ok"])
        }
        // A fake custom-lang: `/invoke {name: "status-NNN"}` answers NNN, `slow-MS` waits MS ms
        // first; other names succeed.
        router.post("/invoke") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 4096)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
            let name = object?["name"] as? String ?? ""
            if name.hasPrefix("slow-"), let milliseconds = Int(name.dropFirst(5)) {
                try await Task.sleep(for: .milliseconds(milliseconds))
            }
            if name.hasPrefix("status-"), let code = Int(name.dropFirst(7)) {
                return Response(status: .init(code: code), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"error":"status \#(code)"}"#)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"message":"Hello \#(name) from fake"}"#)))
        }
        return router
    }

    /// Runs the target on a free port; `body` gets its base URL and port.
    func run(_ body: @escaping @Sendable (String, Int) async throws -> Void) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: Live.logger("target"))
        try await app.test(.live) { client in
            guard let port = client.port else { throw TestFailure("the target has no port") }
            try await body("http://127.0.0.1:\(port)", port)
        }
    }
}

struct CountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let hits: NIOLockedValueBox<Int>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        hits.withLockedValue { $0 += 1 }
        return try await next(request, context)
    }
}

extension ConnectError {
    /// The code of a thrown error (nil when it is not a ConnectError).
    static func code(of operation: () async throws -> Void) async -> ConnectCode? {
        do {
            try await operation()
            return nil
        } catch let error as ConnectError {
            return error.code
        } catch {
            return nil
        }
    }
}
