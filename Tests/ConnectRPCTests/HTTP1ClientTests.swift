import ConnectRPC
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TestSupport
import Testing

/// The lean service-to-service client against a scripted TCP server: what it sends, when it
/// reuses a connection and when it must not, and that every way an exchange can go wrong ends
/// the call (deadline mid-body, oversized body, cancellation, refusal, a server that hangs up).
@Suite struct HTTP1ClientTests {
    @Test func sequentialCallsReuseOneConnectionAndSendHostAndLength() async throws {
        try await ScriptedServer.with({ _, _ in .respond(ScriptedServer.ok("hello")) }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            for index in 0..<5 {
                let response = try await client.execute(.init(method: .POST, target: "/svc/M?x=\(index)", authority: "svc.test:81",
                                                              body: ByteBuffer(string: "abc")), to: server.endpoint)
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "hello")
            }
            #expect(server.connections == 1, "keep-alive: one connection for five calls")
            #expect(await client.idleConnections(to: server.endpoint) == 1)
            let request = try #require(server.requests.last)
            #expect(request.hasPrefix("POST /svc/M?x=4 HTTP/1.1\r\n"))
            #expect(request.lowercased().contains("host: svc.test:81\r\n"))
            #expect(request.lowercased().contains("content-length: 3\r\n"))
            #expect(request.hasSuffix("\r\n\r\nabc"))
            await client.closeIdleConnections()
        }
    }

    @Test func aResponseSayingCloseIsNotReused() async throws {
        let close = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        try await ScriptedServer.with({ _, _ in .respondAndClose(close) }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            for _ in 0..<3 {
                let response = try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: server.endpoint)
                #expect(String(buffer: response.body) == "ok")
            }
            #expect(server.connections == 3)
            #expect(await client.idleConnections(to: server.endpoint) == 0)
        }
    }

    @Test func aServerThatStallsMidBodyMeetsTheDeadlineAndLosesTheConnection() async throws {
        let partial = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part"
        try await ScriptedServer.with({ _, _ in .respondAndStall(partial) }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            let (deadline, deadlineAt) = (NIODeadline.now() + .milliseconds(200), ContinuousClock.now + .milliseconds(200))
            await #expect(throws: HTTP1Client.Failure.deadlineExceeded) {
                try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: server.endpoint, deadline: deadline)
            }
            // Timed on the server's event loop (the test's own tasks can be slow to resume in
            // a loaded parallel run): the client hung up at its deadline.
            for _ in 0..<500 where server.closedAt.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            let closedAt = try #require(server.closedAt.first)
            #expect(closedAt - deadlineAt > .milliseconds(-50) && closedAt - deadlineAt < .milliseconds(1500),
                    "closed \(closedAt - deadlineAt) after the deadline")
            #expect(await client.idleConnections(to: server.endpoint) == 0, "a half-read connection is never reused")
        }
    }

    @Test func aBodyOverTheLimitFailsAndCountingOnlyKeepsNothing() async throws {
        try await ScriptedServer.with({ _, _ in .respond(ScriptedServer.ok(String(repeating: "x", count: 5000))) }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            await #expect(throws: HTTP1Client.Failure.bodyTooLarge(limit: 4999)) {
                try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: server.endpoint, maxBodyBytes: 4999)
            }
            let counted = try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: server.endpoint,
                                                   maxBodyBytes: 5000, keepBody: false)
            #expect(counted.bodyLength == 5000)
            #expect(counted.body.readableBytes == 0)
        }
    }

    @Test func cancellingTheCallerEndsTheCallAtOnce() async throws {
        try await ScriptedServer.with({ _, _ in .stall }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            let call = Task {
                try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: server.endpoint,
                                         deadline: .now() + .seconds(20))
            }
            for _ in 0..<500 where server.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            let cancelledAt = ContinuousClock.now
            call.cancel()
            await #expect(throws: HTTP1Client.Failure.cancelled) { try await call.value }
            // The connection was closed by the cancellation, not by the deadline.
            for _ in 0..<500 where server.closedAt.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            let closedAt = try #require(server.closedAt.first)
            #expect(closedAt - cancelledAt < .seconds(2))
        }
    }

    @Test func aRefusedConnectionAndAHangUpAreReported() async throws {
        let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let closed = try ClosedPort()
        await #expect {
            try await client.execute(.init(method: .GET, target: "/", authority: "x"), to: .init(host: "127.0.0.1", port: closed.port))
        } throws: { error in
            guard case HTTP1Client.Failure.cannotConnect(let reason) = error else { return false }
            return reason.contains("127.0.0.1:\(closed.port)")
        }
        try await ScriptedServer.with({ _, _ in .close }) { server in
            await #expect(throws: HTTP1Client.Failure.connectionClosed) {
                try await client.execute(.init(method: .POST, target: "/", authority: "x"), to: server.endpoint)
            }
        }
    }

    @Test func aKeptConnectionTheServerClosedIsNotUsedAgain() async throws {
        // The first connection is closed by the server right after its (keep-alive) answer.
        try await ScriptedServer.with({ connection, _ in
            connection == 1 ? .respondAndClose(ScriptedServer.ok("first")) : .respond(ScriptedServer.ok("second"))
        }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            _ = try await client.execute(.init(method: .POST, target: "/", authority: "x"), to: server.endpoint)
            try await Task.sleep(for: .milliseconds(100))
            let second = try await client.execute(.init(method: .POST, target: "/", authority: "x"), to: server.endpoint)
            #expect(String(buffer: second.body) == "second")
            #expect(server.connections == 2)
        }
    }

    /// The client writes requests itself: a header that would split the request is refused
    /// before anything is sent, the caller's framing headers never reach the wire (the client
    /// frames the body), and a HEAD answer's Content-Length is not read as a body.
    @Test func requestsAreFramedByTheClientAndHeaderInjectionIsRefused() async throws {
        try await ScriptedServer.with({ _, request in
            request.hasPrefix("HEAD ") ? .respond("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n") : .respond(ScriptedServer.ok("body"))
        }) { server in
            let client = HTTP1Client(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
            let injected: HTTPHeaders = ["X-Note": "a\r\nX-Admin: yes"]
            await #expect(throws: HTTP1Client.Failure.invalidRequest("header X-Note has a line break or NUL in its value")) {
                try await client.execute(.init(method: .GET, target: "/", authority: "x", headers: injected), to: server.endpoint)
            }
            await #expect(throws: HTTP1Client.Failure.self) {
                try await client.execute(.init(method: .GET, target: "/a b", authority: "x"), to: server.endpoint)
            }
            #expect(server.requests.isEmpty, "nothing sent for a refused request")

            let framing: HTTPHeaders = ["Content-Length": "999", "transfer-encoding": "chunked", "HOST": "evil", "X-Kept": "1"]
            let posted = try await client.execute(.init(method: .POST, target: "/p", authority: "svc:1", headers: framing,
                                                        body: ByteBuffer(string: "xyz")), to: server.endpoint)
            #expect(String(buffer: posted.body) == "body")
            let request = try #require(server.requests.last)
            #expect(request == "POST /p HTTP/1.1\r\nHost: svc:1\r\nX-Kept: 1\r\nContent-Length: 3\r\n\r\nxyz", "\(request)")

            let head = try await client.execute(.init(method: .HEAD, target: "/h", authority: "x"), to: server.endpoint)
            #expect(head.status == .ok && head.bodyLength == 0)
            let after = try await client.execute(.init(method: .GET, target: "/after", authority: "x"), to: server.endpoint)
            #expect(String(buffer: after.body) == "body")
            #expect(server.connections == 1, "one connection throughout: every response parsed in step")
        }
    }
}

/// A TCP server answering each complete request (head plus `Content-Length` body) as scripted,
/// given the connection's number (from 1) and the request's text.
final class ScriptedServer: Sendable {
    enum Action: Sendable {
        case respond(String)
        case respondAndClose(String)
        case respondAndStall(String)
        case stall
        case close
    }

    static func ok(_ body: String) -> String {
        "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    private let state = NIOLockedValueBox<(connections: Int, requests: [String], closedAt: [ContinuousClock.Instant])>((0, [], []))
    let script: @Sendable (Int, String) -> Action
    private(set) nonisolated(unsafe) var endpoint = HTTP1Client.Endpoint(host: "127.0.0.1", port: 0)

    var connections: Int { state.withLockedValue { $0.connections } }
    var requests: [String] { state.withLockedValue { $0.requests } }
    /// When each connection closed (in order), seen on the server's loop.
    var closedAt: [ContinuousClock.Instant] { state.withLockedValue { $0.closedAt } }
    init(script: @escaping @Sendable (Int, String) -> Action) {
        self.script = script
    }

    static func with(_ script: @escaping @Sendable (Int, String) -> Action, _ body: (ScriptedServer) async throws -> Void) async throws {
        let server = ScriptedServer(script: script)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let number = server.state.withLockedValue { state -> Int in
                    state.connections += 1
                    return state.connections
                }
                return channel.pipeline.addHandler(Handler(server: server, connection: number))
            }
            .bind(host: "127.0.0.1", port: 0).get()
        server.endpoint = HTTP1Client.Endpoint(host: "127.0.0.1", port: channel.localAddress?.port ?? 0)
        do {
            try await body(server)
        } catch {
            try? await channel.close()
            throw error
        }
        try await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let server: ScriptedServer
        let connection: Int
        var pending = ""

        init(server: ScriptedServer, connection: Int) {
            self.server = server
            self.connection = connection
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += String(buffer: unwrapInboundIn(data))
            while let request = takeRequest() {
                server.state.withLockedValue { $0.requests.append(request) }
                switch server.script(connection, request) {
                case .respond(let text):
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                case .respondAndClose(let text):
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in context.close(promise: nil) }
                case .respondAndStall(let text):
                    context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
                case .stall:
                    break
                case .close:
                    context.close(promise: nil)
                }
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            server.state.withLockedValue { $0.closedAt.append(.now) }
        }

        /// One whole request off the front of `pending`, if it has arrived.
        private func takeRequest() -> String? {
            guard let headEnd = pending.range(of: "\r\n\r\n") else { return nil }
            let head = pending[..<headEnd.lowerBound].lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let bodyStart = headEnd.upperBound
            guard pending[bodyStart...].utf8.count >= length else { return nil }
            let end = pending.utf8.index(bodyStart, offsetBy: length)
            let request = String(pending[..<end])
            pending = String(pending[end...])
            return request
        }
    }
}
