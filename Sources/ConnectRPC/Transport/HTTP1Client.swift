import NIOCore
import NIOHTTP1
import NIOPosix

/// A lean HTTP/1.1 client over cleartext TCP for service-to-service calls (Connect unary,
/// caller's plain-`http` GETs, gateway's REST calls). Hand-written because AsyncHTTPClient's
/// per-request machinery (request state machines, an actor-backed body stream, head and body
/// written separately, a deadline task raced beside it) was a quarter of greeter's CPU per
/// Greet, measured with `perf`; what this runtime needs from a client is small:
///
/// - keep-alive connections pooled per (address, port) on one event loop, reused last-in
///   first-out, at most `maxIdlePerAddress` kept idle; no limit on connections in use (a
///   service's fan-in is bounded by its own callers, as with Go's `net/http`);
/// - the request serialised here straight into one buffer — head and body, one `write` — with
///   NIO's parser reading the response (NIO's encoder, header validator and the parser's
///   observation of every outbound part were three pipeline hops per part);
/// - one deadline for the whole exchange (connect, headers and body), a timer on the loop that
///   closes the connection when it fires: no task or timer thread per call;
/// - the body collected up to a limit, or only counted;
/// - cancellation of the calling task closes the connection at once.
///
/// TLS is not spoken: `https` targets keep AsyncHTTPClient. Redirects are returned, not
/// followed; bodies are returned as sent (no decompression).
///
/// One instance per event loop (``current``): a call made on a loop runs on that loop's
/// connections, so a request never changes threads. Calls from other threads (tests, tools)
/// hop to the client's loop.
public final class HTTP1Client: Sendable {
    /// Where to connect: an IP literal is used as is (no resolver), a name is resolved by NIO.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            // A bracketed IPv6 literal from a URL connects without its brackets.
            self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
            self.port = port
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// One request: `target` is the origin form (`/path?query`), `authority` the `Host` header.
    public struct Request: Sendable {
        public var method: HTTPMethod
        public var target: String
        public var authority: String
        public var headers: HTTPHeaders
        public var body: ByteBuffer?

        public init(method: HTTPMethod, target: String, authority: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil) {
            self.method = method
            self.target = target
            self.authority = authority
            self.headers = headers
            self.body = body
        }
    }

    /// A complete response. `body` is empty when the client was asked only to count it.
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var headers: HTTPHeaders
        public var body: ByteBuffer
        public var bodyLength: Int
    }

    /// Why an exchange failed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// No connection could be made (refused, unreachable, the name did not resolve).
        case cannotConnect(String)
        /// The deadline passed before the response was complete.
        case deadlineExceeded
        /// The response body passed `maxBodyBytes`.
        case bodyTooLarge(limit: Int)
        /// The server closed the connection before the response was complete.
        case connectionClosed
        /// The server's bytes were not HTTP/1.1.
        case malformedResponse(String)
        /// The calling task was cancelled.
        case cancelled
        /// The request cannot be written as HTTP/1.1 (a line break in a header value, a name
        /// that is not a token): nothing was sent.
        case invalidRequest(String)

        public var description: String {
            switch self {
            case .cannotConnect(let reason): "cannot connect: \(reason)"
            case .deadlineExceeded: "no complete response before the deadline"
            case .bodyTooLarge(let limit): "response body larger than \(limit) bytes"
            case .connectionClosed: "the server closed the connection before the response was complete"
            case .malformedResponse(let reason): "malformed HTTP response: \(reason)"
            case .cancelled: "the call was cancelled"
            case .invalidRequest(let reason): "invalid request: \(reason)"
            }
        }
    }

    /// The loop every connection of this client lives on.
    public let eventLoop: any EventLoop
    /// How long opening a connection may take (the call's deadline, when sooner, wins).
    public let connectTimeout: TimeAmount
    /// Idle keep-alive connections kept per address; more are closed when returned.
    public let maxIdlePerAddress: Int
    // Touched only on `eventLoop`.
    private let pool: ConnectionPool

    public init(eventLoop: any EventLoop, connectTimeout: TimeAmount = .seconds(10), maxIdlePerAddress: Int = 64) {
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
        self.maxIdlePerAddress = maxIdlePerAddress
        pool = ConnectionPool(maxIdlePerAddress: maxIdlePerAddress)
    }

    /// The clients, one per event loop of NIO's singleton group.
    static let loopClients = PerEventLoop { loop in HTTP1Client(eventLoop: loop) }

    /// The client of the event loop the caller runs on.
    public static var current: HTTP1Client { loopClients.current }

    /// Sends `request` to `endpoint` and returns the whole response, or throws ``Failure``.
    /// `keepBody: false` counts the body without keeping it (the limit still applies).
    public func execute(_ request: Request, to endpoint: Endpoint, deadline: NIODeadline = .distantFuture,
                        maxBodyBytes: Int = 4 * 1024 * 1024, keepBody: Bool = true) async throws -> Response {
        let exchange = Exchange(request: request, endpoint: endpoint, deadline: deadline, maxBodyBytes: maxBodyBytes,
                                keepBody: keepBody, promise: eventLoop.makePromise())
        return try await withTaskCancellationHandler {
            if eventLoop.inEventLoop {
                start(exchange)
            } else {
                eventLoop.execute { self.start(exchange) }
            }
            return try await exchange.promise.futureResult.get()
        } onCancel: {
            eventLoop.execute { exchange.fail(.cancelled) }
        }
    }

    /// Idle connections to `endpoint` right now (for tests and diagnostics).
    public func idleConnections(to endpoint: Endpoint) async -> Int {
        await eventLoop.submit { self.pool.idleCount(endpoint) }.getOrZero()
    }

    /// Closes every idle connection (in-flight exchanges finish on theirs).
    public func closeIdleConnections() async {
        await eventLoop.submit { self.pool.closeAll() }.getOrZero()
    }

    // MARK: - On the loop

    private func start(_ exchange: Exchange) {
        guard !exchange.isFinished else { return }
        if exchange.deadline != .distantFuture {
            // A callback, not `scheduleTask`: no promise and future per call.
            exchange.timer = try? eventLoop.scheduleCallback(at: exchange.deadline, handler: exchange)
        }
        if let connection = pool.checkOut(exchange.endpoint) {
            connection.send(exchange, reused: true)
            return
        }
        connect(exchange)
    }

    fileprivate func connect(_ exchange: Exchange) {
        let endpoint = exchange.endpoint
        let handler = ConnectionHandler(endpoint: endpoint, client: self)
        let timeout = exchange.deadline == .distantFuture ? connectTimeout : min(connectTimeout, exchange.deadline - .now())
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(max(timeout, .milliseconds(1)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let parser = HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop)
                    handler.parser = parser
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ResponseParser(decoder: parser)))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let connected = if let literal = try? SocketAddress(ipAddress: endpoint.host, port: endpoint.port) {
            bootstrap.connect(to: literal)
        } else {
            bootstrap.connect(host: endpoint.host, port: endpoint.port)
        }
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                // The exchange may have ended meanwhile (deadline, cancel): keep the fresh
                // connection for the next call instead.
                if exchange.isFinished {
                    self.checkIn(handler, channel: channel)
                } else {
                    handler.send(exchange, reused: false)
                }
            case .failure(let error):
                exchange.fail(.cannotConnect(Self.describe(error, endpoint: endpoint)))
            }
        }
    }

    fileprivate func checkIn(_ handler: ConnectionHandler, channel: any Channel) {
        pool.checkIn(handler, channel: channel)
    }

    fileprivate func forget(_ handler: ConnectionHandler) {
        pool.remove(handler)
    }

    private static func describe(_ error: any Error, endpoint: Endpoint) -> String {
        if case ChannelError.connectTimeout = error { return "no connection to \(endpoint) within the connect timeout" }
        return "\(endpoint): \(error)"
    }
}

extension EventLoopFuture {
    /// Waits for the future, ignoring a failure (for diagnostics that have a neutral value).
    fileprivate func getOrZero() async -> Value where Value == Int {
        (try? await get()) ?? 0
    }

    fileprivate func getOrZero() async where Value == Void {
        _ = try? await get()
    }
}

/// One request in flight: its promise, deadline timer and connection. Touched only on the
/// client's loop (hence `@unchecked Sendable`: it crosses into the loop's closures).
private final class Exchange: NIOScheduledCallbackHandler, @unchecked Sendable {
    let request: HTTP1Client.Request
    let endpoint: HTTP1Client.Endpoint
    let deadline: NIODeadline
    let maxBodyBytes: Int
    let keepBody: Bool
    let promise: EventLoopPromise<HTTP1Client.Response>
    var timer: NIOScheduledCallback?
    /// The connection it was sent on, closed when the exchange fails part-way.
    var channel: (any Channel)?
    /// Whether a retry on a fresh connection was already spent (a reused one went stale).
    var retried = false
    private(set) var isFinished = false

    init(request: HTTP1Client.Request, endpoint: HTTP1Client.Endpoint, deadline: NIODeadline, maxBodyBytes: Int,
         keepBody: Bool, promise: EventLoopPromise<HTTP1Client.Response>) {
        self.request = request
        self.endpoint = endpoint
        self.deadline = deadline
        self.maxBodyBytes = maxBodyBytes
        self.keepBody = keepBody
        self.promise = promise
    }

    /// The deadline passed.
    func handleScheduledCallback(eventLoop: some EventLoop) {
        fail(.deadlineExceeded)
    }

    func succeed(_ response: HTTP1Client.Response) {
        guard !isFinished else { return }
        isFinished = true
        timer?.cancel()
        promise.succeed(response)
    }

    /// Fails the call; a connection it was using is closed (its response can no longer be read
    /// in step with the next request).
    func fail(_ failure: HTTP1Client.Failure) {
        guard !isFinished else { return }
        isFinished = true
        timer?.cancel()
        channel?.close(promise: nil)
        promise.fail(failure)
    }
}

/// Idle connections per endpoint, most recently used last. Touched only on the client's loop.
private final class ConnectionPool: @unchecked Sendable {
    private var idle: [HTTP1Client.Endpoint: [ConnectionHandler]] = [:]
    private let maxIdlePerAddress: Int

    init(maxIdlePerAddress: Int) {
        self.maxIdlePerAddress = maxIdlePerAddress
    }

    func checkOut(_ endpoint: HTTP1Client.Endpoint) -> ConnectionHandler? {
        while let handler = idle[endpoint]?.popLast() {
            if handler.isUsable { return handler }
        }
        return nil
    }

    func checkIn(_ handler: ConnectionHandler, channel: any Channel) {
        guard handler.isUsable, idle[handler.endpoint, default: []].count < maxIdlePerAddress else {
            channel.close(promise: nil)
            return
        }
        idle[handler.endpoint, default: []].append(handler)
    }

    func remove(_ handler: ConnectionHandler) {
        idle[handler.endpoint]?.removeAll { $0 === handler }
    }

    func idleCount(_ endpoint: HTTP1Client.Endpoint) -> Int {
        idle[endpoint]?.count(where: \.isUsable) ?? 0
    }

    func closeAll() {
        let all = idle.values.joined()
        idle = [:]
        for handler in all { handler.close() }
    }
}

/// One keep-alive connection: sends an exchange's request and reads its response, then goes
/// back to the pool when both sides allow keep-alive.
private final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = ByteBuffer

    let endpoint: HTTP1Client.Endpoint
    // Strong: clients live as long as the process (one per loop); the cycle is intended.
    private let client: HTTP1Client
    private var context: ChannelHandlerContext?
    private var current: Exchange?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var bodyLength = 0
    private var reused = false
    private var closed = false
    /// NIO's response parser in this connection's pipeline, told each request's method (a
    /// response to HEAD has no body whatever its framing says).
    var parser: HTTPResponseDecoder?

    init(endpoint: HTTP1Client.Endpoint, client: HTTP1Client) {
        self.endpoint = endpoint
        self.client = client
    }

    var isUsable: Bool { !closed && current == nil && context?.channel.isActive == true }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func close() {
        closed = true
        context?.close(promise: nil)
    }

    func send(_ exchange: Exchange, reused: Bool) {
        guard let context else {
            exchange.fail(.connectionClosed)
            return
        }
        current = exchange
        head = nil
        body = nil
        bodyLength = 0
        self.reused = reused
        exchange.channel = context.channel

        let request = exchange.request
        let bytes: ByteBuffer
        do {
            bytes = try RequestSerialiser.serialise(request, allocator: context.channel.allocator)
        } catch {
            current = nil
            exchange.channel = nil
            exchange.fail(.invalidRequest(error.reason))
            // Nothing was written: the connection is still in step and goes back to the pool.
            client.checkIn(self, channel: context.channel)
            return
        }
        parser?.write(data: .head(HTTPRequestHead(version: .http1_1, method: request.method, uri: "")))
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: written)
        written.futureResult.whenFailure { [weak self] _ in self?.lost(exchange) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let exchange = current else {
            // Bytes nobody asked for: the connection is out of step.
            close()
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            head = responseHead
            if exchange.keepBody { body = context.channel.allocator.buffer(capacity: 0) }
        case .body(var chunk):
            bodyLength += chunk.readableBytes
            guard bodyLength <= exchange.maxBodyBytes else {
                current = nil
                exchange.fail(.bodyTooLarge(limit: exchange.maxBodyBytes))
                return
            }
            if exchange.keepBody {
                if body?.readableBytes == 0 { body = chunk } else { body?.writeBuffer(&chunk) }
            }
        case .end:
            guard let responseHead = head else {
                current = nil
                exchange.fail(.malformedResponse("a response ended before its head"))
                return
            }
            let response = HTTP1Client.Response(status: responseHead.status, headers: responseHead.headers,
                                                body: body ?? ByteBuffer(), bodyLength: bodyLength)
            current = nil
            head = nil
            body = nil
            exchange.channel = nil
            if responseHead.isKeepAlive && !exchange.isFinished && !closed {
                client.checkIn(self, channel: context.channel)
            } else {
                close()
            }
            exchange.succeed(response)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let exchange = current {
            current = nil
            exchange.fail(.malformedResponse("\(error)"))
        }
        close()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        client.forget(self)
        if let exchange = current { lost(exchange) }
        context.fireChannelInactive()
    }

    /// The connection went away under `exchange`. A kept-alive connection the server had
    /// already closed (nothing of the response seen) is retried once on a fresh one when the
    /// request is safe to repeat; anything else fails.
    private func lost(_ exchange: Exchange) {
        guard current === exchange else { return }
        current = nil
        closed = true
        exchange.channel = nil
        if reused, head == nil, !exchange.retried, !exchange.isFinished,
           exchange.request.method == .GET || exchange.request.method == .HEAD {
            exchange.retried = true
            client.connect(exchange)
        } else {
            exchange.fail(.connectionClosed)
        }
    }
}

/// NIO's response parser as a decoder of its own, so that outbound bytes pass it untouched
/// (NIO's decoder observes outbound request parts to learn each request's method; here the
/// connection handler tells it, see ``ConnectionHandler/parser``).
private struct ResponseParser: ByteToMessageDecoder {
    typealias InboundOut = HTTPClientResponsePart
    let decoder: HTTPResponseDecoder

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        try decoder.decode(context: context, buffer: &buffer)
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decoder.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }

    func decoderAdded(context: ChannelHandlerContext) {
        decoder.decoderAdded(context: context)
    }

    func decoderRemoved(context: ChannelHandlerContext) {
        decoder.decoderRemoved(context: context)
    }
}

/// Writes an ``HTTP1Client/Request`` as HTTP/1.1 bytes: the request line, `Host`, the caller's
/// headers (framing ones aside: this client frames the body), `Content-Length`, the body.
/// Refuses what would not parse back as the same request (CR, LF or NUL in a value, a name that
/// is not a token, a target with white space) instead of sending it.
enum RequestSerialiser {
    struct Invalid: Error {
        let reason: String
    }

    static func serialise(_ request: HTTP1Client.Request, allocator: ByteBufferAllocator) throws(Invalid) -> ByteBuffer {
        let bodyBytes = request.body?.readableBytes ?? 0
        guard !request.target.isEmpty, !request.target.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw Invalid(reason: "request target \"\(request.target)\" has white space or control characters")
        }
        guard isValidValue(request.authority) else { throw Invalid(reason: "Host has a line break or NUL") }
        var buffer = allocator.buffer(capacity: 256 + (bodyBytes <= 16 * 1024 ? bodyBytes : 0))
        buffer.writeString(request.method.rawValue)
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeString(request.target)
        buffer.writeStaticString(" HTTP/1.1\r\nHost: ")
        buffer.writeString(request.authority)
        buffer.writeStaticString("\r\n")
        for header in request.headers {
            guard isToken(header.name) else { throw Invalid(reason: "header name \"\(header.name)\" is not an HTTP token") }
            guard isValidValue(header.value) else { throw Invalid(reason: "header \(header.name) has a line break or NUL in its value") }
            if isFraming(header.name) { continue }
            buffer.writeString(header.name)
            buffer.writeStaticString(": ")
            buffer.writeString(header.value)
            buffer.writeStaticString("\r\n")
        }
        if request.body != nil || request.method == .POST || request.method == .PUT || request.method == .PATCH {
            buffer.writeStaticString("Content-Length: ")
            buffer.writeString(String(bodyBytes))
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("\r\n")
        if var body = request.body { buffer.writeBuffer(&body) }
        return buffer
    }

    /// `Host`, `Content-Length` and `Transfer-Encoding` are this client's to write.
    private static func isFraming(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: equalsLowercased(name, "host")
        case 14: equalsLowercased(name, "content-length")
        case 17: equalsLowercased(name, "transfer-encoding")
        default: false
        }
    }

    /// ASCII case-insensitive equality with a lowercase name (`name` is a token: setting bit
    /// 0x20 lowercases its letters and leaves `-` and digits alone).
    private static func equalsLowercased(_ name: String, _ lowercase: StaticString) -> Bool {
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        return name.utf8.elementsEqual(expected) { ($0 | 0x20) == $1 }
    }

    /// RFC 9110 §5.6.2 `token`.
    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            default:
                "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
        }
    }

    /// No CR, LF or NUL: anything else is sent as given (as NIO's validator allows).
    private static func isValidValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }
}
