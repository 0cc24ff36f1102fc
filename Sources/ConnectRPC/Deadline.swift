import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Runs `operation` and returns its result, or throws `onTimeout()` at `deadline`, whichever
/// comes first. The one deadline helper of the runtime and the services.
///
/// It never waits for a late operation: at the deadline the operation's task is cancelled and
/// left to notice (a query postgres-nio has sent, or a blocking call, cannot be interrupted; a
/// task group would make the caller wait for it). Work that must not happen after the caller
/// was answered checks `Task.isCancelled` before it starts (see the platform's database calls).
/// Cancelling the calling task answers `CancellationError` at once, even when the cancellation
/// arrives before the operation's task exists.
///
/// Cost when the deadline does not fire: one task for the operation and one scheduled task on
/// the calling thread's NIO event loop (a timer-heap entry, removed again on completion). No
/// Dispatch timer, no timer thread: a pending cancelled timer costs nothing after the call.
/// With the services' event loops as the concurrency executor (`devctl serve`), the operation's
/// task starts on the same thread, so the race adds no thread switch either.
public func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant,
    _ operation: @escaping @Sendable () async throws -> T,
    onTimeout: @escaping @Sendable () -> any Error
) async throws -> T {
    let remaining = ContinuousClock.now.duration(to: deadline)
    guard remaining > .zero else {
        try Task.checkCancellation()
        throw onTimeout()
    }
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<T, any Error>) in
            guard race.begin(continuation) else { return }
            // The current thread's loop when there is one (no cross-thread wake-up to arm it).
            let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
            let timer = loop.scheduleTask(in: TimeAmount(remaining)) { race.finish(.failure(onTimeout())) }
            let work = Task {
                do { race.finish(.success(try await operation())) } catch { race.finish(.failure(error)) }
            }
            race.track(work, timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The instant at which the current request is answered whether or not the work under way has
/// finished: set while a Connect handler runs under a `Connect-Timeout-Ms` deadline (which
/// ``withDeadline(_:_:onTimeout:)`` enforces). Work inside the handler with a later deadline of
/// its own (a database call's 3 s) needs no race of its own: the request's comes first.
public enum EnforcedDeadline {
    @TaskLocal public static var current: ContinuousClock.Instant?
}

/// ``withDeadline(_:_:onTimeout:)`` for a duration from now.
public func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T,
    onTimeout: @escaping @Sendable () -> any Error
) async throws -> T {
    try await withDeadline(ContinuousClock.now.advanced(by: timeout), operation, onTimeout: onTimeout)
}

/// The shared state of one race: the first result wins and cancels the rest; a result (or a
/// cancellation) that comes before the continuation or the task exist is kept, not lost.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: UnsafeContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }

    private let state = NIOLockedValueBox(State())

    /// Installs the continuation; `false` when the race already ended (cancelled before it began),
    /// in which case the continuation has been resumed.
    func begin(_ continuation: UnsafeContinuation<T, any Error>) -> Bool {
        let early = state.withLockedValue { state -> Result<T, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func track(_ work: Task<Void, Never>, _ timer: Scheduled<Void>) {
        let finished = state.withLockedValue { state -> Bool in
            state.work = work
            state.timer = timer
            return state.outcome != nil
        }
        if finished {
            work.cancel()
            timer.cancel()
        }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, work, timer) = state.withLockedValue { state -> (UnsafeContinuation<T, any Error>?, Task<Void, Never>?, Scheduled<Void>?) in
            guard state.outcome == nil else { return (nil, nil, nil) }
            state.outcome = result
            defer {
                state.continuation = nil
                state.work = nil
                state.timer = nil
            }
            return (state.continuation, state.work, state.timer)
        }
        continuation?.resume(with: result)
        timer?.cancel()
        // The operation's own success needs no cancel (it has ended).
        if case .failure = result { work?.cancel() }
    }
}
