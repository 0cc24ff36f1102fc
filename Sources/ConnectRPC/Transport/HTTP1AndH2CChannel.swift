import HTTPTypes
import HummingbirdCore
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOTLS
import ServiceLifecycle

/// Serves HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one plaintext port, as connect-go
/// does behind `h2c.NewHandler`: Connect and gRPC-Web clients over HTTP/1.1, gRPC clients
/// (grpcio, grpc-go, grpcurl) and the edge over h2c, on the same socket.
///
/// Hummingbird has HTTP/1.1, h2c-only (`plaintextHTTP2`) or TLS+ALPN, not both in cleartext. The
/// connection's first bytes decide: the HTTP/2 client preface (`PRI * HTTP/2.0…`) hands the
/// channel to ``H2CServer``, anything else to ``HTTP1Server``. The decision is told to NIO's
/// protocol-negotiation handler the way a TLS handshake would (an ALPN result). Both run the
/// application's router from handlers on the connection's event loop, a task per request.
public struct HTTP1AndH2CChannel: ServerChildChannel {
    public typealias Negotiated = NIONegotiatedHTTPVersion<any Channel, any Channel>

    public struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        public let channel: any Channel
    }

    private let http1: HTTP1Server
    private let h2c: H2CServer
    /// How long a new connection may stay silent before it is closed (its first bytes decide
    /// the protocol, so nothing else would time it out).
    static let prefaceTimeout: TimeAmount = .seconds(30)

    init(responder: RouterResponder, decoderLimits: NIOHTTPDecoderLimitConfiguration = .init()) {
        http1 = HTTP1Server(responder: responder, decoderLimits: decoderLimits)
        h2c = H2CServer(responder: responder)
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<Negotiated> { [http1, h2c] result in
                switch result {
                case .negotiated("h2"):
                    return channel.eventLoop.makeCompletedFuture {
                        try h2c.setup(channel: channel, logger: logger)
                        return .http2(channel)
                    }
                default:
                    return channel.eventLoop.makeCompletedFuture {
                        try http1.setup(channel: channel, logger: logger)
                        return .http1_1(channel)
                    }
                }
            }
            try channel.pipeline.syncOperations.addHandler(PrefaceSniffer(timeout: Self.prefaceTimeout))
            try channel.pipeline.syncOperations.addHandler(negotiation)
            return Value(negotiated: negotiation.protocolNegotiationResult, channel: channel)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        do {
            // A connection that has sent nothing yet must not hold up a graceful shutdown (the
            // chosen protocol's handler takes care of that once it runs).
            let negotiated = try await withGracefulShutdownHandler {
                try await value.negotiated.get()
            } onGracefulShutdown: {
                value.channel.eventLoop.execute {
                    if (try? value.channel.pipeline.syncOperations.handler(type: PrefaceSniffer.self)) != nil { value.channel.close(promise: nil) }
                }
            }
            // Requests run as their own tasks; the connection is done when it closes (graceful
            // shutdown reaches it as a quiesce event: HTTP/1.1 closes once the response in
            // flight is written, h2c sends GOAWAY, drains and closes).
            let channel = switch negotiated {
            case .http1_1(let channel), .http2(let channel): channel
            }
            await withTaskCancellationHandler {
                _ = try? await channel.closeFuture.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            logger.debug("connection closed before its protocol was known", metadata: ["error": "\(error)"])
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 and h2c on one port (see ``HTTP1AndH2CChannel``). `responder` is the
    /// application's (`router.buildResponder()`), called by both protocols' handlers directly
    /// (the application's own responder is not used); `serverName` is the `server` header.
    public static func http1AndH2C<Responder: HTTPResponder>(
        responder: Responder, serverName: String? = nil, decoderLimits: NIOHTTPDecoderLimitConfiguration = .init()
    ) -> HTTPServerBuilder where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let routerResponder = RouterResponder(responder: responder, serverName: serverName)
        return .init { _ in HTTP1AndH2CChannel(responder: routerResponder, decoderLimits: decoderLimits) }
    }
}

/// Reads a connection's first bytes until they either are the HTTP/2 client preface or cannot
/// be, reports the protocol as a TLS ALPN result would (`h2` or `http/1.1`), passes the bytes
/// on unchanged and leaves the pipeline.
final class PrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private var buffered: ByteBuffer?
    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if buffered == nil {
            buffered = chunk
        } else {
            buffered?.writeBuffer(&chunk)
        }
        guard let bytes = buffered else { return }
        let seen = bytes.readableBytesView.prefix(Self.preface.count)
        let isPrefacePrefix = seen.elementsEqual(Self.preface.prefix(seen.count))
        // Wait for more while what arrived could still become the preface.
        if isPrefacePrefix && seen.count < Self.preface.count { return }
        decide(context: context, protocol: isPrefacePrefix ? "h2" : "http/1.1")
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed before deciding: let HTTP/1.1 see whatever came (it answers or drops it).
        if buffered != nil { decide(context: context, protocol: "http/1.1") }
        context.fireChannelInactive()
    }

    private func decide(context: ChannelHandlerContext, protocol negotiated: String) {
        let bytes = buffered
        buffered = nil
        // The negotiation handler installs the chosen pipeline behind this one before the
        // bytes move on.
        context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: negotiated))
        if let bytes { context.fireChannelRead(wrapInboundOut(bytes)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Takes client PINGs away from Hummingbird's HTTP/2 connection manager, which counts every PING
/// within 30 s of the previous one as a strike and closes the connection (GOAWAY
/// ENHANCE_YOUR_CALM) on the third — without the reset on sent data that gRFC A8 prescribes.
/// grpcio probes bandwidth with PINGs while responses flow, so a busy gRPC client lost its
/// connection, and every call on it, within seconds (seen as UNAVAILABLE "Socket closed").
///
/// Like connect-go's server (Go's net/http2 answers every PING), PINGs are simply answered —
/// NIOHTTP2 acks them before this handler — up to a flood limit: a token bucket (burst
/// ``burst``, ``refillPerSecond`` sustained) that a BDP-probing client stays far below and a
/// ping flood does not. PING acks still reach the manager: its graceful shutdown relies on them.
final class PingGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    static let burst = 100.0
    static let refillPerSecond = 20.0

    private var tokens = PingGuard.burst
    private var lastRefill = NIODeadline.now()
    private var closing = false

    /// Adds the guard right behind NIOHTTP2's connection handler (ahead of Hummingbird's manager).
    static func install(in pipeline: ChannelPipeline.SynchronousOperations) throws {
        let http2Handler = try pipeline.handler(type: NIOHTTP2Handler.self)
        try pipeline.addHandler(PingGuard(), position: .after(http2Handler))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .ping(_, ack: false) = unwrapInboundIn(data).payload else {
            context.fireChannelRead(data)
            return
        }
        let now = NIODeadline.now()
        let elapsed = Double((now - lastRefill).nanoseconds) / 1e9
        lastRefill = now
        tokens = min(Self.burst, tokens + elapsed * Self.refillPerSecond)
        if tokens >= 1 {
            tokens -= 1
            return
        }
        guard !closing else { return }
        closing = true
        let goAway = HTTP2Frame(streamID: .rootStream,
                                payload: .goAway(lastStreamID: .maxID, errorCode: .enhanceYourCalm,
                                                 opaqueData: context.channel.allocator.buffer(string: "too_many_pings")))
        context.writeAndFlush(wrapOutboundOut(goAway), promise: nil)
        // A tick later, so the GOAWAY leaves before the socket closes.
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { loopBound.value.close(promise: nil) }
    }
}

/// Trailers of a one-message gRPC response over h2c travel in its head, marked, so the response
/// is a one-buffer body (one write): ``H2CStream`` moves them to the end of the stream (or into
/// one trailers-only HEADERS frame). A marked name can never come from an application: `grpc-`
/// headers are the protocol's (``ConnectMetadata``).
enum TrailersFromHead {
    /// The prefix a trailer's name carries in the head.
    static let prefix = "grpc-x-trailer-"

    /// `trailers` renamed for the head of a response on an h2c stream.
    static func carryingTrailers(_ trailers: HTTPFields) -> HTTPFields {
        var marked = HTTPFields()
        for field in trailers {
            guard let name = HTTPField.Name(prefix + field.name.canonicalName) else { continue }
            marked.append(HTTPField(name: name, value: field.value))
        }
        return marked
    }
}
