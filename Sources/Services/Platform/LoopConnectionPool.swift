import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// A service's PostgreSQL connections on one event loop (hand-written: postgres-nio's
/// `PostgresClient` does the same job, but its per-lease machinery — a pool state machine, a
/// request and a continuation per lease, connection bookkeeping — measured ~20 % of greeter's and
/// caller's CPU per Greet; this pool's lease is a lock and an array pop).
///
/// - at most `maximum` connections (idle + in use + being opened); a lease beyond that waits, in
///   order, and a cancelled waiter (the caller's database deadline) leaves the queue at once;
/// - idle connections reused last-in first-out (the warmest first); one found closed (the server
///   went away) is dropped and replaced by the next lease;
/// - a connection comes back to the pool when its call succeeded or failed with an error the
///   server reported (the session is still in step); any other failure — cancelled mid-query, a
///   lost socket, an error of the caller's — closes it, as its state is unknown;
/// - `run()` (one of the application's services) opens `minimum` connections at start-up and
///   closes everything at graceful shutdown, after the server has finished its requests.
///
/// Nothing runs between calls: no keep-alive or idle timer (a dead connection is found by its
/// next call, answered 503 once, and replaced).
public final class LoopConnectionPool: Service, Sendable {
    /// The service is shutting down: no more connections.
    public struct Closed: Error {}

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<PostgresConnection, any Error>
    }

    private struct State {
        var idle: [PostgresConnection] = []
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
        case use(PostgresConnection)
        case connect(id: Int)
        case wait(id: Int)
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
        let connection = try await lease()
        let result: T
        do {
            result = try await body(connection)
        } catch {
            giveBack(connection, reusable: (error as? PSQLError)?.code == .server)
            throw error
        }
        giveBack(connection, reusable: true)
        return result
    }

    /// Connections open now (idle, in use, being opened).
    public var openConnections: Int { state.withLockedValue { $0.open } }

    private func lease() async throws -> PostgresConnection {
        let lease = try state.withLockedValue { state throws -> Lease in
            guard !state.closed else { throw Closed() }
            while let connection = state.idle.popLast() {
                if !connection.isClosed { return .use(connection) }
                state.open -= 1
            }
            if state.open < maximum {
                state.open += 1
                return .connect(id: state.nextID())
            }
            return .wait(id: state.nextID())
        }
        switch lease {
        case .use(let connection):
            return connection
        case .connect(let id):
            return try await connect(id: id)
        case .wait(let id):
            return try await waitForConnection(id: id)
        }
    }

    /// Opens a connection in a slot already counted in `open`; on failure the slot passes to the
    /// first waiter (which tries for itself rather than waiting for a release that may not come).
    private func connect(id: Int) async throws -> PostgresConnection {
        do {
            return try await PostgresConnection.connect(on: eventLoop, configuration: configuration, id: id, logger: logger)
        } catch {
            releaseSlot()
            throw error
        }
    }

    private func waitForConnection(id: Int) async throws -> PostgresConnection {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection, any Error>) in
                let failure = state.withLockedValue { state -> (any Error)? in
                    // Cancelled before it could queue: the handler ran and found nothing to remove.
                    if Task.isCancelled { return CancellationError() }
                    if state.closed { return Closed() }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Back from a lease: to the first waiter, or idle; closed when it cannot be trusted (its
    /// slot then passes to the first waiter, which gets a fresh connection).
    private func giveBack(_ connection: PostgresConnection, reusable: Bool) {
        enum Then { case handTo(Waiter), keep, close }
        let then = state.withLockedValue { state -> Then in
            guard reusable, !connection.isClosed, !state.closed else { return .close }
            if let waiter = state.waiters.popFirst() { return .handTo(waiter) }
            state.idle.append(connection)
            return .keep
        }
        switch then {
        case .handTo(let waiter):
            waiter.continuation.resume(returning: connection)
        case .keep:
            break
        case .close:
            Self.closeInBackground(connection)
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
        // The waiter is suspended in its continuation; the connection is opened for it.
        Task {
            do {
                waiter.continuation.resume(returning: try await connect(id: id))
            } catch {
                waiter.continuation.resume(throwing: error)
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
                giveBack(try await connect(id: id), reusable: true)
            } catch {
                logger.debug("database connection not opened at start-up", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                return
            }
        }
    }

    /// Closes idle connections and fails waiters; connections in use close when given back.
    public func closeAll() {
        let (idle, waiters) = state.withLockedValue { state -> ([PostgresConnection], CircularBuffer<Waiter>) in
            state.closed = true
            defer {
                state.open -= state.idle.count
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for connection in idle { Self.closeInBackground(connection) }
        for waiter in waiters { waiter.continuation.resume(throwing: Closed()) }
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
