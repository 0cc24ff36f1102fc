import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A service's PostgreSQL connections on one event loop (hand-written: postgres-nio's
/// `PostgresClient` does the same job, but its per-lease machinery — a pool state machine, a
/// request and a continuation per lease, connection bookkeeping — measured ~20 % of greeter's and
/// caller's CPU per Greet; this pool's lease is a lock and an array pop).
///
/// - at most `maximum` connections (idle + in use + being opened); a lease beyond that waits, in
///   order, and a waiter cancelled or past its deadline leaves the queue at once;
/// - idle connections reused last-in first-out (the warmest first); one found closed (the server
///   went away) is dropped and replaced by the next lease;
/// - a connection comes back to the pool when its call succeeded or failed with an error the
///   server reported (the session is still in step); any other failure — cancelled mid-query, a
///   lost socket, an error of the caller's — closes it, as its state is unknown;
/// - `run()` (one of the application's services) opens `minimum` connections at start-up and
///   closes everything at graceful shutdown, after the server has finished its requests;
/// - a call inside ``withDeadline(_:_:)`` ends by then whatever the server does: a waiter leaves
///   the queue, a connect gives up, and a connection still busy is closed (which fails its query
///   at once): ``ServicePlatform/DatabaseUnavailable``. One loop timer per call, no task.
///
/// Nothing runs between calls: no keep-alive or idle timer (a dead connection is found by its
/// next call, answered 503 once, and replaced).
public final class LoopConnectionPool: Service, Sendable {
    /// The service is shutting down: no more connections.
    public struct Closed: Error {}

    /// The instant by which the calls under way must be answered (``withDeadline(_:_:)``).
    @TaskLocal static var deadline: NIODeadline?

    /// Runs `body` with every database call in it bounded by `deadline`.
    public static func withDeadline<T>(_ deadline: NIODeadline, isolation: isolated (any Actor)? = #isolation,
                                       _ body: () async throws -> T) async rethrows -> T {
        try await $deadline.withValue(deadline, operation: body, isolation: isolation)
    }

    private struct Waiter {
        let id: Int
        let deadline: NIODeadline?
        let continuation: CheckedContinuation<Pooled, any Error>
        var timer: Scheduled<Void>?

        /// Answers the waiter; its deadline timer is no longer needed.
        func resume(with result: Result<Pooled, any Error>) {
            timer?.cancel()
            continuation.resume(with: result)
        }
    }

    private struct State {
        var idle: [Pooled] = []
        /// Idle, in use and being opened.
        var open = 0
        var waiters = CircularBuffer<Waiter>()
        var lastID = 0
        var closed = false

        mutating func nextID() -> Int {
            lastID += 1
            return lastID
        }
    }

    private enum Lease {
        case use(Pooled)
        case connect(id: Int)
        case wait(id: Int)
    }

    /// A connection with its deadline handler: the timer of a call closes it (allocated once per
    /// connection, not per call).
    private final class Pooled: NIOScheduledCallbackHandler, Sendable {
        let connection: PostgresConnection
        private let expired = Atomic<Bool>(false)

        init(_ connection: PostgresConnection) { self.connection = connection }

        var hasExpired: Bool { expired.load(ordering: .relaxed) }

        func arm(at deadline: NIODeadline?, on eventLoop: any EventLoop) -> NIOScheduledCallback? {
            expired.store(false, ordering: .relaxed)
            guard let deadline else { return nil }
            return try? eventLoop.scheduleCallback(at: deadline, handler: self)
        }

        /// The call ran past its deadline: closing the connection fails its query now (a hung
        /// server would otherwise keep it waiting); the pool then replaces it.
        func handleScheduledCallback(eventLoop: some EventLoop) {
            expired.store(true, ordering: .relaxed)
            connection.close().whenComplete { _ in }
        }
    }

    let eventLoop: any EventLoop
    let configuration: PostgresConnection.Configuration
    /// The most connections open at once.
    public let maximum: Int
    /// Connections opened at start-up (kept: idle ones are never closed).
    public let minimum: Int
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    public init(eventLoop: any EventLoop, configuration: PostgresConnection.Configuration, maximum: Int, minimum: Int = 0, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.maximum = max(1, maximum)
        self.minimum = min(max(0, minimum), self.maximum)
        self.logger = logger
    }

    /// Runs `body` with a connection of this pool, which goes back when `body` returns (or throws
    /// an error the server reported) and is closed otherwise.
    public func withConnection<T>(isolation: isolated (any Actor)? = #isolation,
                                  _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let deadline = Self.deadline
        let pooled = try await lease(deadline)
        let timer = pooled.arm(at: deadline, on: eventLoop)
        let result: T
        do {
            result = try await body(pooled.connection)
        } catch {
            timer?.cancel()
            if pooled.hasExpired {
                giveBack(pooled, reusable: false)
                throw ServicePlatform.DatabaseUnavailable()
            }
            giveBack(pooled, reusable: (error as? PSQLError)?.code == .server)
            throw error
        }
        timer?.cancel()
        giveBack(pooled, reusable: !pooled.hasExpired)
        return result
    }

    /// Connections open now (idle, in use, being opened).
    public var openConnections: Int { state.withLockedValue { $0.open } }

    private func lease(_ deadline: NIODeadline?) async throws -> Pooled {
        let lease = try state.withLockedValue { state throws -> Lease in
            guard !state.closed else { throw Closed() }
            while let pooled = state.idle.popLast() {
                if !pooled.connection.isClosed { return .use(pooled) }
                state.open -= 1
            }
            if state.open < maximum {
                state.open += 1
                return .connect(id: state.nextID())
            }
            return .wait(id: state.nextID())
        }
        switch lease {
        case .use(let pooled):
            return pooled
        case .connect(let id):
            return try await connect(id: id, deadline: deadline)
        case .wait(let id):
            return try await waitForConnection(id: id, deadline: deadline)
        }
    }

    /// Opens a connection in a slot already counted in `open`; on failure the slot passes to the
    /// first waiter (which tries for itself rather than waiting for a release that may not come).
    private func connect(id: Int, deadline: NIODeadline?) async throws -> Pooled {
        do {
            var configuration = configuration
            if let deadline {
                let remaining = deadline - .now()
                guard remaining > .zero else { throw ServicePlatform.DatabaseUnavailable() }
                configuration.options.connectTimeout = min(configuration.options.connectTimeout, remaining)
            }
            return Pooled(try await PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger))
        } catch {
            releaseSlot()
            throw error
        }
    }

    private func waitForConnection(id: Int, deadline: NIODeadline?) async throws -> Pooled {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Pooled, any Error>) in
                // The timer only finds the waiter if it is still queued; one that fires before the
                // waiter is queued is seen below as a deadline already past.
                let timer = deadline.map { deadline in
                    eventLoop.scheduleTask(deadline: deadline) { self.removeWaiter(id, failing: ServicePlatform.DatabaseUnavailable()) }
                }
                let failure = state.withLockedValue { state -> (any Error)? in
                    // Cancelled before it could queue: the handler ran and found nothing to remove.
                    if Task.isCancelled { return CancellationError() }
                    if state.closed { return Closed() }
                    if let deadline, deadline <= .now() { return ServicePlatform.DatabaseUnavailable() }
                    state.waiters.append(Waiter(id: id, deadline: deadline, continuation: continuation, timer: timer))
                    return nil
                }
                if let failure {
                    timer?.cancel()
                    continuation.resume(throwing: failure)
                }
            }
        } onCancel: {
            removeWaiter(id, failing: CancellationError())
        }
    }

    /// Takes a waiter out of the queue (cancelled, or past its deadline) and fails it.
    private func removeWaiter(_ id: Int, failing failure: any Error) {
        let waiter = state.withLockedValue { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.resume(with: .failure(failure))
    }

    /// Back from a lease: to the first waiter, or idle; closed when it cannot be trusted (its
    /// slot then passes to the first waiter, which gets a fresh connection).
    private func giveBack(_ pooled: Pooled, reusable: Bool) {
        enum Then { case handTo(Waiter), keep, close }
        let then = state.withLockedValue { state -> Then in
            guard reusable, !pooled.connection.isClosed, !state.closed else { return .close }
            if let waiter = state.waiters.popFirst() { return .handTo(waiter) }
            state.idle.append(pooled)
            return .keep
        }
        switch then {
        case .handTo(let waiter):
            waiter.resume(with: .success(pooled))
        case .keep:
            break
        case .close:
            Self.closeInBackground(pooled.connection)
            releaseSlot()
        }
    }

    /// A slot fell free (a connection closed or never opened): the first waiter opens a fresh
    /// connection in it; with nobody waiting the pool is one connection smaller.
    private func releaseSlot() {
        let handOver = state.withLockedValue { state -> (Waiter, Int)? in
            guard !state.closed, let waiter = state.waiters.popFirst() else {
                state.open -= 1
                return nil
            }
            return (waiter, state.nextID())
        }
        guard let (waiter, id) = handOver else { return }
        // The waiter is suspended in its continuation; the connection is opened for it (within
        // the waiter's deadline, which `connect` enforces from here on).
        Task {
            do {
                waiter.resume(with: .success(try await connect(id: id, deadline: waiter.deadline)))
            } catch {
                waiter.resume(with: .failure(error))
            }
        }
    }

    /// Opens connections until `minimum` are open; stops at the first failure (the database may
    /// not be up yet: calls then open connections as they need them, and readiness says why).
    func warmUp() async {
        while true {
            let id = state.withLockedValue { state -> Int? in
                guard !state.closed, state.open < minimum else { return nil }
                state.open += 1
                return state.nextID()
            }
            guard let id else { return }
            do {
                giveBack(try await connect(id: id, deadline: nil), reusable: true)
            } catch {
                logger.debug("database connection not opened at start-up", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                return
            }
        }
    }

    /// Closes idle connections and fails waiters; connections in use close when given back.
    public func closeAll() {
        let (idle, waiters) = state.withLockedValue { state -> ([Pooled], CircularBuffer<Waiter>) in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for pooled in idle { Self.closeInBackground(pooled.connection) }
        for waiter in waiters { waiter.resume(with: .failure(Closed())) }
    }

    /// A pool dropped without `closeAll()` (a test that failed part-way) still closes its idle
    /// connections: postgres-nio asserts that a connection is closed before it goes away.
    deinit {
        for pooled in state.withLockedValue({ $0.idle }) { Self.closeInBackground(pooled.connection) }
    }

    /// Opens the minimum, holds the pool until graceful shutdown, then closes it.
    public func run() async throws {
        await warmUp()
        try? await gracefulShutdown()
        closeAll()
    }

    /// Closes without making anyone wait for it (the pool has given up on the connection).
    private static func closeInBackground(_ connection: PostgresConnection) {
        Task { try? await connection.close() }
    }
}
