import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// The HTTP/1.1 side of ``HTTP1AndH2CChannel``: each request answered by the application's
/// router from a handler on the connection's event loop.
///
/// Hand-written for the same reason as ``H2CServer``: Hummingbird's HTTP/1.1 channel wraps every
/// connection in an async channel read by a task of the server's task group — a task that runs on
/// whichever thread the group's tasks run on, so each request crosses threads twice (the parts
/// in, the response out) and pays the async sequence and writer machinery both ways. Here NIO's
/// parser still reads requests (with its limits); one task per request runs the router, started
/// on the connection's loop (services run Swift Concurrency on NIO's loops: it stays there) and
/// writing straight to the channel when it is there. The response is serialised here from
/// `HTTPResponse` into one buffer — head, a small body and its end leave as one write — rather
/// than through NIO's type-conversion, error and encoder handlers (three pipeline hops per part
/// and a `HTTPHeaders` copy of every head: ~10 % of a service's CPU per Greet, measured).
/// Malformed input is answered 400 and the connection closed, as NIO's error handler did.
/// Pipelined requests wait in a queue until the response before them is written (NIO's
/// pipelining handler would do that too, but by turning reading off and on around every
/// request: two `epoll_ctl` calls per request), and graceful shutdown closes an idle connection
/// at once and a busy one after its response.
struct HTTP1Server: Sendable {
    let responder: RouterResponder
    let decoderLimits: NIOHTTPDecoderLimitConfiguration

    /// Installs NIO's HTTP/1.1 parser and our connection handler (the first bytes were not the
    /// h2 preface).
    func setup(channel: any Channel, logger: Logger) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
        try pipeline.addHandler(HTTP1ConnectionHandler(responder: responder, logger: logger))
    }
}

/// The application's router as both servers call it: a request context with a request id, the
/// `Date` and `server` headers Hummingbird's application adds, and 500 for an error that escaped.
struct RouterResponder: Sendable {
    /// Answers one request: the router, with a request context made for it.
    typealias Respond = @Sendable (Request, any Channel, Logger) async throws -> Response

    let respond: Respond
    let serverName: String?

    init(respond: @escaping Respond, serverName: String?) {
        self.respond = respond
        self.serverName = serverName
    }

    init<Responder: HTTPResponder>(responder: Responder, serverName: String?)
    where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        self.init(respond: { request, channel, logger in
            var logger = logger
            logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
            let context = Responder.Context(source: .init(channel: channel, logger: logger))
            return try await responder.respond(to: request, context: context)
        }, serverName: serverName)
    }

    func response(to request: Request, channel: any Channel, logger: Logger) async -> Response {
        var response: Response
        do {
            response = try await respond(request, channel, logger)
        } catch {
            logger.debug("Unrecognised Error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError)
        }
        // RFC 9110 §6.6.1.
        response.headers[.date] = HTTPDate.now()
        if let serverName { response.headers[.server] = serverName }
        return response
    }
}

/// One HTTP/1.1 connection: one exchange at a time (a pipelined request waits in `queued` until
/// the response before it is written). Confined to the channel's event loop.
final class HTTP1ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    /// Nothing above this handler writes; it serialises responses itself.
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    let responder: RouterResponder
    let logger: Logger
    private(set) var context: ChannelHandlerContext?
    private var exchange: HTTP1Exchange?
    /// Parts of requests that came after the one in flight (pipelining), in order.
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    /// A read NIO asked for while the request body's reader had enough, or requests are queued:
    /// done when they are taken.
    private var readPending = false
    private var inReadLoop = false
    private var flushPending = false
    /// The client has shut its side: the connection closes once what it sent is answered.
    private var inputClosed = false
    /// Graceful shutdown: the connection closes once the response in flight is written.
    private var quiescing = false
    /// The response being written: its framing and the bytes not yet handed to the channel.
    private var response = HTTP1ResponseEncoder()

    init(responder: RouterResponder, logger: Logger) {
        self.responder = responder
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadLoop = true
        let part = unwrapInboundIn(data)
        // A request after the one in flight waits for its response (rare: clients seldom pipeline).
        if !queued.isEmpty || exchange?.requestComplete == true {
            queued.append(part)
            return
        }
        take(part, eventLoop: context.eventLoop)
    }

    private func take(_ part: HTTPServerRequestPart, eventLoop: any EventLoop) {
        switch part {
        case .head(let head):
            do {
                let request = try HTTPRequest(head, secure: false, splitCookie: false)
                exchange = HTTP1Exchange(head: request, connection: self, eventLoop: eventLoop)
            } catch {
                // A method or target HTTPTypes cannot represent: as malformed as a parse error.
                refuseMalformed(error)
            }
        case .body(let buffer):
            exchange?.received(buffer)
        case .end:
            // Request trailers are read as the end of the request (as Hummingbird does).
            exchange?.requestEnded()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadLoop = false
        // A body still arriving: the handler starts now and reads it as it comes.
        if let exchange, !exchange.isStarted { exchange.start(streaming: true) }
        if flushPending { flushNow() }
        context.fireChannelReadComplete()
    }


    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { exchange?.becameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if let exchange, exchange.isStarted {
                exchange.inputClosed()
            } else if queued.isEmpty {
                // Nothing in flight, or a request cut short before its handler started.
                context.close(promise: nil)
            }
        } else if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if let exchange {
                exchange.closeWhenAnswered()
            } else {
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.connectionClosed()
        exchange = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            refuseMalformed(error)
            return
        }
        logger.debug("HTTP/1.1 connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    /// Bytes that are not HTTP/1.1: 400 when no response has begun (after one has, its framing
    /// cannot be interrupted), then the connection closes — nothing after them can be trusted.
    private func refuseMalformed(_ error: any Error) {
        logger.debug("HTTP/1.1 malformed request", metadata: ["error": "\(error)"])
        guard let context else { return }
        exchange?.connectionClosed()
        exchange = nil
        queued.removeAll()
        if !response.isInProgress {
            context.writeAndFlush(wrapOutboundOut(HTTP1ResponseEncoder.badRequest), promise: nil)
        }
        context.close(promise: nil)
    }

    /// The request body's reader wants more: a read held back is done now.
    fileprivate func readerResumed() {
        guard readPending, queued.isEmpty, let context else { return }
        readPending = false
        context.read()
    }

    /// The exchange is over on both sides: the next request, if one is queued, starts.
    fileprivate func exchangeDone(_ done: HTTP1Exchange) {
        guard exchange === done, let context else { return }
        exchange = nil
        if quiescing {
            close()
            return
        }
        while exchange?.requestComplete != true, let part = queued.popFirst() {
            take(part, eventLoop: context.eventLoop)
        }
        if let exchange, !exchange.isStarted {
            if inputClosed {
                // Cut short: the rest of that request will never come.
                close()
                return
            }
            exchange.start(streaming: true)
        } else if exchange == nil && inputClosed {
            close()
            return
        }
        readerResumed()
    }

    // MARK: outbound

    /// The read NIO asks for is held back while the request body's reader has enough or
    /// requests are queued (outbound, hence here: `read` travels toward the socket).
    func read(context: ChannelHandlerContext) {
        if !queued.isEmpty || exchange?.readerWantsMore == false {
            readPending = true
            return
        }
        context.read()
    }

    fileprivate func writeHead(_ head: HTTPResponse, bodyAllowed: Bool) {
        guard let context else { return }
        response.start(head, bodyAllowed: bodyAllowed, allocator: context.channel.allocator)
    }

    fileprivate func writeBody(_ buffer: ByteBuffer) {
        guard let context else { return }
        if let large = response.append(body: buffer, allocator: context.channel.allocator) {
            // Too big to copy: what is pending goes first, then the part as it is.
            emitPending()
            context.write(wrapOutboundOut(large), promise: nil)
            response.finishLargePart(allocator: context.channel.allocator)
        } else if response.pendingBytes >= HTTP1ResponseEncoder.copyLimit {
            // Handed to the channel, the bytes count toward its writability (back-pressure for
            // a handler streaming many small parts without a pause).
            emitPending()
        }
    }

    fileprivate func writeEnd(_ trailers: HTTPFields?, promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        response.end(trailers, allocator: context.channel.allocator)
        emitPending(promise: promise)
    }

    /// Hands the pending response bytes to the channel (not yet to the socket: see flush).
    private func emitPending(promise: EventLoopPromise<Void>? = nil) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        if let bytes = response.takePending() {
            context.write(wrapOutboundOut(bytes), promise: promise)
        } else if let promise {
            context.write(wrapOutboundOut(ByteBuffer()), promise: promise)
        }
    }

    /// One flush for everything written within this read or this event-loop tick.
    fileprivate func scheduleFlush() {
        guard !flushPending else { return }
        flushPending = true
        if inReadLoop { return }
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { loopBound.value.flushNow() }
    }

    fileprivate func flushNow() {
        flushPending = false
        emitPending()
        context?.flush()
    }

    fileprivate func close() {
        context?.close(promise: nil)
    }

    /// Writes a response's end, then closes once it is on the socket (closing at once would
    /// drop what the socket has not taken yet).
    fileprivate func writeEndThenClose(_ trailers: HTTPFields?) {
        guard let context else { return }
        let done = context.eventLoop.makePromise(of: Void.self)
        let channel = context.channel
        done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        writeEnd(trailers, promise: done)
        flushPending = false
        context.flush()
    }

    fileprivate var isWritable: Bool { context?.channel.isWritable ?? false }
}

/// One request and its response on an HTTP/1.1 connection. State lives on the connection's
/// event loop; the handler's task reaches it directly when it runs there, by a hop otherwise.
final class HTTP1Exchange: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let connection: HTTP1ConnectionHandler
    private var head: HTTPRequest?
    private var closeAfterResponse: Bool
    /// A response to HEAD says its framing but carries no body (RFC 9110 §9.3.2).
    private let bodyAllowed: Bool

    // Inbound (request body)
    private var buffered: ByteBuffer?
    private(set) var requestComplete = false
    private(set) var isStarted = false
    private var source: RequestBodyStream.Source?
    private(set) var readerWantsMore = true

    // Outbound (response)
    private var responseComplete = false
    private var closed = false
    private var writableWaiter: CheckedContinuation<Void, any Error>?
    private var task: Task<Void, Never>?

    init(head: HTTPRequest, connection: HTTP1ConnectionHandler, eventLoop: any EventLoop) {
        self.head = head
        self.connection = connection
        self.eventLoop = eventLoop
        closeAfterResponse = head.headerFields[.connection].map { $0.lowercased().contains("close") } ?? false
        bodyAllowed = head.method != .head
    }

    // MARK: request

    func received(_ buffer: ByteBuffer) {
        if isStarted {
            // Without a source the response is complete: the rest of the request is dropped.
            if let source, source.yield(buffer) == .stopProducing { readerWantsMore = false }
        } else if buffered == nil {
            buffered = buffer
        } else {
            var buffer = buffer
            buffered?.writeBuffer(&buffer)
        }
    }

    /// Graceful shutdown: the connection closes after this response (marked, if its head has
    /// not left yet).
    func closeWhenAnswered() {
        closeAfterResponse = true
        if responseComplete { connection.close() }
    }

    /// The client shut its side before the request ended: a handler reading the body fails.
    func inputClosed() {
        guard !requestComplete else { return }
        requestComplete = true
        source?.finish(HTTPParserError.invalidEOFState)
        source = nil
    }

    func requestEnded() {
        guard !requestComplete else { return }
        requestComplete = true
        if let source {
            source.finish()
            self.source = nil
        } else if !isStarted {
            start(streaming: false)
        }
        if responseComplete { connection.exchangeDone(self) }
    }

    /// Runs the router: with the whole body when it has arrived, otherwise with a body that
    /// streams in as the handler reads it (reads from the socket wait while it has enough).
    func start(streaming: Bool) {
        guard !isStarted, !closed, let head else { return }
        isStarted = true
        self.head = nil
        let body: RequestBody
        if streaming {
            let (streamed, rest) = RequestBodyStream.make(arrived: buffered, ended: requestComplete, eventLoop: eventLoop) { [self] in readerResumed() }
            body = streamed
            source = rest
        } else {
            body = RequestBody(buffer: buffered ?? ByteBuffer())
        }
        buffered = nil
        let responder = connection.responder
        let logger = connection.logger
        guard let channel = connection.context?.channel else { return }
        task = Task { [self] in
            let response = await responder.response(to: Request(head: head, body: body), channel: channel, logger: logger)
            do {
                if response.body.contentLength == nil {
                    let head = response.head
                    try await onLoop { try $0.writeStreamHead(head) }
                    try await response.body.write(HTTP1BodyWriter(exchange: self, head: nil, streaming: true))
                } else {
                    try await response.body.write(HTTP1BodyWriter(exchange: self, head: response.head, streaming: false))
                }
            } catch {
                // The client went away, or the body failed half way: nothing more can be said on
                // this connection.
                logger.debug("HTTP/1.1 response not completed", metadata: ["error": "\(error)"])
                _ = try? await onLoop { $0.abandon() }
            }
        }
    }

    private func readerResumed() {
        readerWantsMore = true
        connection.readerResumed()
    }

    /// The connection closed: the handler is cancelled, its body and writes fail.
    func connectionClosed() {
        guard !closed else { return }
        closed = true
        task?.cancel()
        source?.finish(CancellationError())
        source = nil
        writableWaiter?.resume(throwing: ChannelError.ioOnClosedChannel)
        writableWaiter = nil
    }

    // MARK: response (on the event loop)

    fileprivate func writeHead(_ head: HTTPResponse) throws {
        try checkOpen()
        var head = head
        if closeAfterResponse {
            head.headerFields[.connection] = "close"
        } else if let value = head.headerFields[.connection], value.lowercased().contains("close") {
            closeAfterResponse = true
        }
        connection.writeHead(head, bodyAllowed: bodyAllowed)
    }

    /// Writes the head of a streamed response on its own: its client may wait for it.
    fileprivate func writeStreamHead(_ head: HTTPResponse) throws {
        try writeHead(head)
        connection.flushNow()
    }

    /// Writes one part; `flush` for a streamed body (a whole one leaves with its end). Returns
    /// whether the handler should wait for the socket before writing more.
    fileprivate func writeBody(_ buffer: ByteBuffer, flush: Bool) throws -> Bool {
        try checkOpen()
        connection.writeBody(buffer)
        if connection.isWritable {
            if flush { connection.scheduleFlush() }
            return false
        }
        // Full: what is queued must go out before the handler may go on.
        connection.flushNow()
        return true
    }

    fileprivate func finish(_ trailers: HTTPFields?) throws {
        try checkOpen()
        responseComplete = true
        task = nil
        if closeAfterResponse {
            closed = true
            connection.writeEndThenClose(trailers)
            return
        }
        connection.writeEnd(trailers)
        connection.flushNow()
        if requestComplete {
            connection.exchangeDone(self)
        } else {
            // Answered before the request ended: the rest of its body is read and dropped.
            source?.finish()
            source = nil
            readerResumed()
        }
    }

    /// The response cannot be completed: the connection closes (its framing is lost).
    private func abandon() {
        guard !closed else { return }
        closed = true
        connection.close()
    }

    fileprivate func waitUntilWritable() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            eventLoop.execute { [self] in
                if closed {
                    continuation.resume(throwing: ChannelError.ioOnClosedChannel)
                } else if connection.isWritable {
                    continuation.resume()
                } else {
                    writableWaiter = continuation
                }
            }
        }
    }

    fileprivate func becameWritable() {
        writableWaiter?.resume()
        writableWaiter = nil
    }

    private func checkOpen() throws {
        if closed { throw ChannelError.ioOnClosedChannel }
    }

    /// Runs `body` on the event loop: directly when already there.
    fileprivate func onLoop<T: Sendable>(_ body: @escaping @Sendable (HTTP1Exchange) throws -> T) async throws -> T {
        try await eventLoop.runHere { try body(self) }
    }
}

/// Writes a response into its exchange: the head with the first part, a whole body and its end
/// in one step and one flush, a streamed body as it comes, waiting while the socket is full.
struct HTTP1BodyWriter: ResponseBodyWriter {
    let exchange: HTTP1Exchange
    /// The response head, until it has been written.
    var head: HTTPResponse?
    /// A streamed body: each part is flushed as it comes.
    let streaming: Bool

    mutating func write(_ buffer: ByteBuffer) async throws {
        let head = self.head
        self.head = nil
        let streaming = streaming
        let mustWait = try await exchange.onLoop { exchange in
            if let head { try exchange.writeHead(head) }
            return try exchange.writeBody(buffer, flush: streaming)
        }
        if mustWait { try await exchange.waitUntilWritable() }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        let head = self.head
        try await exchange.onLoop { exchange in
            if let head { try exchange.writeHead(head) }
            try exchange.finish(trailingHeaders)
        }
    }
}
