import NIOConcurrencyHelpers

/// Runs `operation` in its own task and returns its result, or throws `timeoutError()` at
/// `deadline` without waiting for the operation to notice its cancellation.
func raceAgainstDeadline<T: Sendable>(
    _ deadline: ContinuousClock.Instant,
    _ operation: @escaping @Sendable () async throws -> T,
    timeoutError: @escaping @Sendable () -> any Error
) async throws -> T {
    let resumed = NIOLockedValueBox(false)
    let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            func finish(_ result: Result<T, any Error>) {
                let first = resumed.withLockedValue { done -> Bool in
                    defer { done = true }
                    return !done
                }
                guard first else { return }
                continuation.resume(with: result)
                tasks.withLockedValue { $0.forEach { $0.cancel() } }
            }
            let work = Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                if !Task.isCancelled { finish(.failure(timeoutError())) }
            }
            tasks.withLockedValue { $0 = [work, timer] }
            if resumed.withLockedValue({ $0 }) { work.cancel(); timer.cancel() }
        }
    } onCancel: {
        tasks.withLockedValue { $0.forEach { $0.cancel() } }
    }
}
