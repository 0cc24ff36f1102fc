import Hummingbird
import NIOCore

/// A request body handed to a handler while it is still arriving, for both servers
/// (``HTTP1Server``, ``H2CServer``): at most a few buffers wait for the handler; when it has read
/// them down, `onReaderResumed` runs on the connection's loop to let more in (a read, or stream
/// credit).
enum RequestBodyStream {
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReaderResumed>
    typealias Source = Producer.Source

    /// The body, starting with what has `arrived`; and the source the rest goes into, unless the
    /// request has already `ended`.
    static func make(arrived: ByteBuffer?, ended: Bool, eventLoop: any EventLoop,
                     onReaderResumed: @escaping @Sendable () -> Void) -> (RequestBody, Source?) {
        let producer = Producer.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
            delegate: ReaderResumed(eventLoop: eventLoop, resume: onReaderResumed))
        if let arrived { _ = producer.source.yield(arrived) }
        if ended {
            producer.source.finish()
            return (RequestBody(asyncSequence: producer.sequence), nil)
        }
        return (RequestBody(asyncSequence: producer.sequence), producer.source)
    }

    /// Tells the connection, on its loop, that the handler has caught up.
    struct ReaderResumed: NIOAsyncSequenceProducerDelegate {
        let eventLoop: any EventLoop
        let resume: @Sendable () -> Void

        func produceMore() {
            if eventLoop.inEventLoop { resume() } else { eventLoop.execute(resume) }
        }

        func didTerminate() {}
    }
}

extension EventLoop {
    /// Runs `body` on this loop: directly when the caller is already on it (a handler's task on
    /// the services' loops), by a hop otherwise.
    func runHere<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if inEventLoop { return try body() }
        return try await submit(body).get()
    }
}
