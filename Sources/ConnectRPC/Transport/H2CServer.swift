#if canImport(Glibc)
import Glibc
#endif
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The HTTP/2 side of ``HTTP1AndH2CChannel``: every stream of an h2c connection answered by the
/// application's router straight from the connection's frames.
///
/// Hand-written because no kept library does it cheaply: Hummingbird's HTTP/2 server (NIOHTTP2's
/// multiplexer) gives every stream its own child channel, pipeline, async channel and task group
/// entry — about twice the CPU of an HTTP/1.1 request (bench/protocols.sh). Here a stream is a
/// small object on its connection's event loop and one task running the router; NIOHTTP2's
/// connection handler still does framing, HPACK, stream states, flow-control windows on the way
/// out, limits and GOAWAY. What the multiplexer did besides lives here: request bodies as
/// back-pressured async sequences (the stream's window is given back only as the handler reads),
/// the connection window, responses with trailers, resets both ways, and graceful shutdown.
struct H2CServer: Sendable {
    let responder: RouterResponder

    /// Installs the connection handler behind NIOHTTP2's (the preface has been seen).
    func setup(channel: any Channel, logger: Logger) throws {
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(NIOHTTP2Handler(mode: .server))
        try PingGuard.install(in: pipeline)
        try pipeline.addHandler(H2CConnectionHandler(server: self, logger: logger))
    }
}

/// One h2c connection: routes frames to its streams, starts a task per request, writes the
/// responses' frames, and gives flow-control credit back. Confined to the channel's event loop.
final class H2CConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Credit is given back in chunks of half the default 65,535-byte window.
    static let windowUpdateThreshold = 32_768
    /// The connection's receive window (HTTP/2's initial size).
    static let connectionWindow = 65_535

    let server: H2CServer
    let logger: Logger
    private(set) var context: ChannelHandlerContext?
    private var streams: [HTTP2StreamID: H2CStream] = [:]
    /// Streams whose request is still arriving: started (streaming) at the end of this read.
    private var notYetStarted: [H2CStream] = []
    /// Streams holding a response part back to merge it with the next one (see ``H2CStream``).
    private var withHeldOutput: [H2CStream] = []
    private var inReadLoop = false
    private var flushPending = false
    private var quiescing = false
    private var closeScheduled = false
    private var highestStreamID: HTTP2StreamID = .rootStream

    init(server: H2CServer, logger: Logger) {
        self.server = server
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
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            if let stream = streams[frame.streamID] {
                // Trailers from the client end its request (gRPC clients send none).
                if headers.endStream { stream.requestEnded() }
            } else {
                openStream(frame.streamID, headers: headers.headers, endStream: headers.endStream, context: context)
            }
        case .data(let payload):
            guard case .byteBuffer(let buffer) = payload.data else { return }
            // Padding counts against the window too (RFC 9113 §6.9.1).
            let length = buffer.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0)
            streams[frame.streamID]?.received(buffer, flowControlledLength: length, endStream: payload.endStream)
        default:
            // RST_STREAM arrives as a StreamClosedEvent as well; SETTINGS, PING, WINDOW_UPDATE and
            // GOAWAY are NIOHTTP2's business.
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadLoop = false
        // What did not end within one read is a stream: its handler starts now, reading on.
        if !notYetStarted.isEmpty {
            let waiting = notYetStarted
            notYetStarted.removeAll(keepingCapacity: true)
            for stream in waiting where !stream.isStarted { stream.start(streaming: true) }
        }
        if flushPending { flushNow() }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            if let stream = streams.removeValue(forKey: closed.streamID) {
                // A reset (by the client, or by NIOHTTP2 for a protocol error) ends the handler.
                if let reason = closed.reason { stream.wasReset(reason) }
            }
            closeIfDrained()
        case let updated as NIOHTTP2WindowUpdatedEvent where updated.streamID == .rootStream:
            if let size = updated.inboundWindowSize { connectionWindowShrank(to: size) }
        case is ChannelShouldQuiesceEvent:
            quiesce(context: context)
        case let event as ChannelEvent where event == .inputClosed:
            context.close(promise: nil)
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let open = streams.values
        streams.removeAll()
        notYetStarted.removeAll()
        withHeldOutput.removeAll()
        for stream in open { stream.wasReset(.cancel) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            // NIOHTTP2 has reset that stream; the connection goes on.
            streams.removeValue(forKey: streamError.streamID)?.wasReset(.protocolError)
            return
        }
        // A connection error: NIOHTTP2 has sent its GOAWAY.
        logger.debug("h2c connection error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    private func openStream(_ id: HTTP2StreamID, headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        guard !quiescing else {
            // Past our GOAWAY: the client retries it on a new connection.
            write(HTTP2Frame(streamID: id, payload: .rstStream(.refusedStream)), promise: nil)
            scheduleFlush()
            return
        }
        let head: HTTPRequest
        do {
            head = try HTTPRequest(h2cHeaders: headers)
        } catch {
            write(HTTP2Frame(streamID: id, payload: .rstStream(.protocolError)), promise: nil)
            scheduleFlush()
            return
        }
        highestStreamID = max(highestStreamID, id)
        let stream = H2CStream(id: id, head: head, connection: self, eventLoop: context.eventLoop)
        streams[id] = stream
        if endStream {
            stream.requestEnded()
        } else {
            notYetStarted.append(stream)
        }
    }

    /// Tops the connection's receive window back up once half of it is used. NIOHTTP2 reports
    /// the window as it shrinks, including for frames it drops (on streams already closed), which
    /// counting delivered bytes would miss until the connection stalled.
    private func connectionWindowShrank(to size: Int) {
        guard size <= Self.connectionWindow / 2 else { return }
        write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.connectionWindow - size)), promise: nil)
        scheduleFlush()
    }

    // MARK: outbound

    /// Writes a frame (on the event loop); the flush comes at the end of the read or the tick.
    func write(_ frame: HTTP2Frame, promise: EventLoopPromise<Void>?) {
        guard let context else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    func holdOutputUntilFlush(_ stream: H2CStream) {
        withHeldOutput.append(stream)
        scheduleFlush()
    }

    /// One flush for everything written within this read or this event-loop tick.
    func scheduleFlush() {
        guard !flushPending else { return }
        flushPending = true
        if inReadLoop { return }
        guard let context else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute { loopBound.value.flushNow() }
    }

    private func flushNow() {
        guard flushPending else { return }
        flushPending = false
        if !withHeldOutput.isEmpty {
            let held = withHeldOutput
            withHeldOutput.removeAll(keepingCapacity: true)
            for stream in held { stream.releaseHeldOutput() }
        }
        context?.flush()
    }

    /// A stream's handler has finished: a quiescing connection may now be done.
    func streamHandlerFinished() {
        closeIfDrained()
    }

    // MARK: graceful shutdown

    private func quiesce(context: ChannelHandlerContext) {
        guard !quiescing else { return }
        quiescing = true
        write(HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: highestStreamID, errorCode: .noError, opaqueData: nil)), promise: nil)
        scheduleFlush()
        closeIfDrained()
    }

    private func closeIfDrained() {
        guard quiescing, !closeScheduled, streams.isEmpty, let context else { return }
        closeScheduled = true
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // A tick later, so the last stream's frames are flushed first.
        context.eventLoop.execute {
            loopBound.value.flush()
            loopBound.value.close(promise: nil)
        }
    }
}

/// One request/response exchange on an h2c connection.
///
/// State lives on the connection's event loop; the handler's task reaches it through
/// ``write(_:)`` and ``finish(_:)``, directly when it runs on that loop (the services run Swift
/// Concurrency on NIO's loops, so usually) and by a hop otherwise.
///
/// A response part is held back until the next one or the end of the tick, so that a one-message
/// body and its end leave as one DATA frame with END_STREAM, and an empty body with trailers as one
/// trailers-only HEADERS frame (gRPC's "Trailers-Only").
final class H2CStream: @unchecked Sendable {
    /// Bytes written but not yet on the socket beyond which the handler waits.
    static let outboundHighWater = 65_536
    static let outboundLowWater = 16_384

    let id: HTTP2StreamID
    let eventLoop: any EventLoop
    private let connection: H2CConnectionHandler
    private var head: HTTPRequest?

    // Inbound (request body)
    private var buffered: ByteBuffer?
    private var ended = false
    private(set) var isStarted = false
    private var source: RequestBodyStream.Source?
    private var readerWantsMore = true
    private var streamCreditOwed = 0

    // Outbound (response)
    private var responseHead: HPACKHeaders?
    private var headTrailers: HTTPFields?
    private var heldData: ByteBuffer?
    private var sentData = false
    private var responseEnded = false
    private var resetReason: NIOHTTP2.HTTP2ErrorCode?
    private var outstandingBytes = 0
    private var writableWaiter: CheckedContinuation<Void, any Error>?
    private var task: Task<Void, Never>?

    init(id: HTTP2StreamID, head: HTTPRequest, connection: H2CConnectionHandler, eventLoop: any EventLoop) {
        self.id = id
        self.head = head
        self.connection = connection
        self.eventLoop = eventLoop
    }

    // MARK: request

    func received(_ buffer: ByteBuffer, flowControlledLength: Int, endStream: Bool) {
        if isStarted {
            // Without a source the handler has finished: the rest of the request is dropped.
            if let source, source.yield(buffer) == .stopProducing { readerWantsMore = false }
        } else if buffered == nil {
            buffered = buffer
        } else {
            var buffer = buffer
            buffered?.writeBuffer(&buffer)
        }
        if endStream {
            requestEnded()
        } else {
            streamCreditOwed += flowControlledLength
            if streamCreditOwed >= H2CConnectionHandler.windowUpdateThreshold { giveStreamCredit() }
        }
    }

    func requestEnded() {
        guard !ended else { return }
        ended = true
        if let source {
            source.finish()
        } else if !isStarted {
            start(streaming: false)
        }
    }

    /// Runs the router for this request: with the whole body when it has arrived, otherwise with
    /// a body that streams in as the handler reads it.
    func start(streaming: Bool) {
        guard !isStarted, resetReason == nil, let head else { return }
        isStarted = true
        self.head = nil
        let body: RequestBody
        if streaming {
            let (streamed, rest) = RequestBodyStream.make(arrived: buffered, ended: ended, eventLoop: eventLoop) { [self] in readerResumed() }
            body = streamed
            source = rest
        } else {
            body = RequestBody(buffer: buffered ?? ByteBuffer())
        }
        buffered = nil
        let server = connection.server
        let logger = connection.logger
        guard let channel = connection.context?.channel else { return }
        task = Task { [self] in
            await ConnectTransport.$isHTTP2.withValue(true) {
                await self.run(Request(head: head, body: body), server: server, channel: channel, logger: logger)
            }
        }
    }

    private func run(_ request: Request, server: H2CServer, channel: any Channel, logger: Logger) async {
        let response = await server.responder.response(to: request, channel: channel, logger: logger)
        do {
            let head = response.head
            if response.body.contentLength == nil {
                // A stream: its headers leave now (a client may wait for them before sending).
                try await onLoop { try $0.setHead(head) }
                try await response.body.write(H2CBodyWriter(stream: self, head: nil))
            } else {
                // A whole body: the head goes with its first part, in one step on the event loop,
                // so an empty body with trailers is one trailers-only HEADERS frame.
                try await response.body.write(H2CBodyWriter(stream: self, head: head))
            }
        } catch {
            // Reset by the client, or the body failed half way: the stream ends with RST_STREAM.
            logger.debug("h2c response not completed", metadata: ["stream": "\(Int(id))", "error": "\(error)"])
        }
        _ = try? await onLoop { $0.handlerDone() }
    }

    /// Gives the client back the window its data used, unless the handler has stopped reading
    /// (then the client can send at most one more window before it waits).
    private func giveStreamCredit() {
        guard readerWantsMore, !ended, resetReason == nil, streamCreditOwed > 0 else { return }
        connection.write(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: streamCreditOwed)), promise: nil)
        streamCreditOwed = 0
        connection.scheduleFlush()
    }

    /// The handler reads again (below the body's low watermark).
    private func readerResumed() {
        readerWantsMore = true
        giveStreamCredit()
    }

    /// The stream is gone (reset, or the connection closed): the handler is cancelled, its body
    /// and writes fail.
    func wasReset(_ reason: NIOHTTP2.HTTP2ErrorCode) {
        guard resetReason == nil else { return }
        resetReason = reason
        task?.cancel()
        source?.finish(CancellationError())
        source = nil
        heldData = nil
        writableWaiter?.resume(throwing: CancellationError())
        writableWaiter = nil
    }

    // MARK: response (on the event loop)

    fileprivate func setHead(_ head: HTTPResponse) throws {
        try checkOpen()
        var fields = HPACKHeaders()
        fields.reserveCapacity(head.headerFields.count + 1)
        fields.add(name: ":status", value: String(head.status.code))
        var trailers = HTTPFields()
        for field in head.headerFields {
            let name = field.name.canonicalName
            if name.hasPrefix(TrailersFromHead.prefix) {
                if let original = HTTPField.Name(String(name.dropFirst(TrailersFromHead.prefix.count))) {
                    trailers.append(HTTPField(name: original, value: field.value))
                }
                continue
            }
            if Self.connectionSpecific.contains(name) { continue }
            fields.add(name: name, value: field.value)
        }
        if !trailers.isEmpty {
            // No length when trailers follow: a client may stop reading at it, before them (curl does).
            fields.remove(name: "content-length")
            headTrailers = trailers
        }
        responseHead = fields
        // Sent with the first body part or the end if they come within this tick, else alone
        // (a stream's client may wait for the headers before anything else happens).
        holdOutput()
    }

    private var holdsOutput = false

    private func holdOutput() {
        guard !holdsOutput else { return }
        holdsOutput = true
        connection.holdOutputUntilFlush(self)
    }

    /// HTTP/1.1 connection headers are malformed in HTTP/2 (RFC 9113 §8.2.2).
    private static let connectionSpecific: Set<String> = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]

    fileprivate func writeBody(_ buffer: ByteBuffer) throws -> Bool {
        try checkOpen()
        emitHeld(endStream: false)
        heldData = buffer
        holdOutput()
        return outstandingBytes > Self.outboundHighWater
    }

    fileprivate func finishBody(_ trailers: HTTPFields?) throws {
        try checkOpen()
        var allTrailers = headTrailers ?? HTTPFields()
        if let trailers { allTrailers.append(contentsOf: trailers) }
        if allTrailers.isEmpty {
            emitHeld(endStream: true)
        } else if var head = responseHead, heldData == nil, !sentData {
            // Trailers-only: one HEADERS frame with status, headers and trailers.
            responseHead = nil
            for field in allTrailers { head.add(name: field.name.canonicalName, value: field.value) }
            head.remove(name: "content-length")
            connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: head, endStream: true))), promise: nil)
        } else {
            emitHeld(endStream: false, last: true)
            var block = HPACKHeaders()
            for field in allTrailers { block.add(name: field.name.canonicalName, value: field.value) }
            connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: block, endStream: true))), promise: nil)
        }
        responseEnded = true
        connection.scheduleFlush()
    }

    /// At the end of the tick: whatever is held leaves (its stream goes on).
    func releaseHeldOutput() {
        holdsOutput = false
        guard resetReason == nil, !responseEnded else { return }
        emitHeld(endStream: false)
    }

    /// `last`: no more data follows (only trailers), so nothing waits on what is sent now.
    private func emitHeld(endStream: Bool, last: Bool = false) {
        if let head = responseHead {
            responseHead = nil
            let headersEnd = endStream && heldData == nil
            connection.write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: head, endStream: headersEnd))), promise: nil)
            if headersEnd { return }
        }
        guard let data = heldData else {
            if endStream {
                connection.write(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
            }
            return
        }
        heldData = nil
        sentData = true
        let length = data.readableBytes
        let frame = HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(data), endStream: endStream)))
        if endStream || last {
            connection.write(frame, promise: nil)
            return
        }
        // Counted until it is on the socket (NIOHTTP2 holds it while the client's window is shut).
        outstandingBytes += length
        let promise = eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [self] _ in
            outstandingBytes -= length
            if outstandingBytes <= Self.outboundLowWater, let waiter = writableWaiter {
                writableWaiter = nil
                waiter.resume()
            }
        }
        connection.write(frame, promise: promise)
    }

    fileprivate func waitUntilWritable() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            eventLoop.execute { [self] in
                if let resetReason {
                    continuation.resume(throwing: H2CStreamReset(code: resetReason))
                } else if outstandingBytes <= Self.outboundLowWater {
                    continuation.resume()
                } else {
                    writableWaiter = continuation
                }
            }
        }
    }

    private func handlerDone() {
        task = nil
        if resetReason == nil {
            if !responseEnded {
                // The handler ended without finishing its response (it threw mid-body).
                responseHead = nil
                heldData = nil
                connection.write(HTTP2Frame(streamID: id, payload: .rstStream(.internalError)), promise: nil)
                connection.scheduleFlush()
            } else if !ended {
                // Answered before the request ended: the rest is not wanted (RFC 9113 §8.1).
                connection.write(HTTP2Frame(streamID: id, payload: .rstStream(.noError)), promise: nil)
                connection.scheduleFlush()
            }
        }
        source?.finish()
        source = nil
        connection.streamHandlerFinished()
    }

    private func checkOpen() throws {
        if let resetReason { throw H2CStreamReset(code: resetReason) }
    }

    /// Runs `body` on the event loop: directly when already there.
    fileprivate func onLoop<T: Sendable>(_ body: @escaping @Sendable (H2CStream) throws -> T) async throws -> T {
        try await eventLoop.runHere { try body(self) }
    }
}

/// The stream was reset (by the client, a protocol error, or the connection closing).
struct H2CStreamReset: Error, CustomStringConvertible {
    let code: NIOHTTP2.HTTP2ErrorCode
    var description: String { "HTTP/2 stream reset (\(code))" }
}

/// Writes a response body into its h2c stream, waiting while too much is unsent.
struct H2CBodyWriter: ResponseBodyWriter {
    let stream: H2CStream
    /// The response head, when it is to leave with the first part.
    var head: HTTPResponse?

    mutating func write(_ buffer: ByteBuffer) async throws {
        let head = self.head
        self.head = nil
        let mustWait = try await stream.onLoop { stream in
            if let head { try stream.setHead(head) }
            return try stream.writeBody(buffer)
        }
        if mustWait { try await stream.waitUntilWritable() }
        try Task.checkCancellation()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        let head = self.head
        try await stream.onLoop { stream in
            if let head { try stream.setHead(head) }
            try stream.finishBody(trailingHeaders)
        }
    }
}

extension HTTPRequest {
    /// A request head from an HTTP/2 header block (NIOHTTP2 has validated its pseudo-headers).
    init(h2cHeaders block: HPACKHeaders) throws {
        var method: HTTPRequest.Method?
        var scheme: String?
        var authority: String?
        var path: String?
        var fields = HTTPFields()
        fields.reserveCapacity(block.count)
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": method = HTTPRequest.Method(value)
                case ":scheme": scheme = value
                case ":authority": authority = value
                case ":path": path = value
                default: break
                }
            } else if let fieldName = HTTPField.Name(name) {
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }
        guard let method, path != nil else { throw H2CStreamReset(code: NIOHTTP2.HTTP2ErrorCode.protocolError) }
        self.init(method: method, scheme: scheme, authority: authority, path: path, headerFields: fields)
    }
}

/// The `Date` header's value (IMF-fixdate), formatted once a second, on demand: no timer runs
/// while the server is idle (Hummingbird's own date cache is internal to its application).
enum HTTPDate {
    private static let cache = NIOLockedValueBox<(second: Int, value: String)>((-1, ""))

    static func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let second = now.tv_sec
        return cache.withLockedValue { cached in
            if cached.second != second { cached = (second, format(second)) }
            return cached.value
        }
    }

    static func format(_ second: Int) -> String {
        var time = time_t(second)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
