import NIOConcurrencyHelpers

/// Runs `operation` and returns its result, or throws `onTimeout()` at `deadline`, whichever
/// comes first. The one deadline helper of the runtime and the services.
///
/// It never waits for a late operation: at the deadline the operation's task is cancelled and
/// left to notice (a query postgres-nio has sent, or a blocking call, cannot be interrupted; a
/// task group would make the caller wait for it). Work that must not happen after the caller
/// was answered checks `Task.isCancelled` before it starts (see the platform's database calls).
/// Cancelling the calling task answers `CancellationError` at once, even when the cancellation
/// arrives before the operation's task exists.
public func withDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant,
    _ operation: @escaping @Sendable () async throws -> T,
    onTimeout: @escaping @Sendable () -> any Error
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            guard race.begin(continuation) else { return }
            let work = Task {
                do { race.finish(.success(try await operation())) } catch { race.finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                if !Task.isCancelled { race.finish(.failure(onTimeout())) }
            }
            race.track(work, timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
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
/// cancellation) that comes before the continuation or the tasks exist is kept, not lost.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Installs the continuation; `false` when the race already ended (cancelled before it began),
    /// in which case the continuation has been resumed.
    func begin(_ continuation: CheckedContinuation<T, any Error>) -> Bool {
        let early = state.withLockedValue { state -> Result<T, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func track(_ tasks: Task<Void, Never>...) {
        let finished = state.withLockedValue { state -> Bool in
            state.tasks = tasks
            return state.outcome != nil
        }
        if finished { tasks.forEach { $0.cancel() } }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks) = state.withLockedValue { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = result
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        continuation?.resume(with: result)
        tasks.forEach { $0.cancel() }
    }
}
