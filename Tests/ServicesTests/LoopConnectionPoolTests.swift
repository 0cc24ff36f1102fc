import ConnectRPC
import Database
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
@testable import Services
import TestSupport
import Testing

/// The per-loop PostgreSQL pool against a real PostgreSQL: never more connections than its cap,
/// waiters served in order when connections come back, a cancelled waiter out of the queue at
/// once, a failed connection replaced, and nothing leased after shutdown.
@Suite struct LoopConnectionPoolTests {
    typealias Fixture = ServiceDatabaseFixture

    private func makePool(_ fixture: Fixture, maximum: Int, minimum: Int = 0) throws -> LoopConnectionPool {
        var configuration = try PostgresEndpoint(url: fixture.url(Fixture.greeter))
            .connectionConfiguration(database: Fixture.greeter.database, limits: .service("greeter"))
        configuration.options.connectTimeout = .seconds(3)
        return LoopConnectionPool(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                  maximum: maximum, minimum: minimum, logger: Logger(label: "pool-test"))
    }

    /// A call that holds the pool's connection for `seconds` (leased, idle: a query would meet the
    /// service's 2.5 s statement timeout); returns once it holds it. The bounds below are far from
    /// these holds, so a loaded machine (CI runs every suite at once) cannot turn a slow answer
    /// into a pass or a prompt one into a failure.
    private func holdConnection(_ pool: LoopConnectionPool, seconds: Int) async -> Task<Void, any Error> {
        let (held, signal) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await pool.withConnection { _ in
                signal.yield()
                try await Task.sleep(for: .seconds(seconds))
            }
        }
        for await _ in held { break }
        return holder
    }

    /// The pooled connection a call gets, and its server process.
    private func connectionAndBackend(_ pool: LoopConnectionPool) async throws -> (connection: Int, backend: Int32) {
        let (id, backend) = try await pool.withConnection { connection in
            (connection.id, try await connection.query("SELECT pg_backend_pid()", logger: Logger(label: "t")).collect().first?.decode(Int32.self))
        }
        return (id, try #require(backend))
    }

    @Test func theCapHoldsAndWaitersAreServedAsConnectionsReturn() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 2)
            // Eight calls at once, each holding its connection a little: all succeed on two.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await pool.withConnection { connection in
                            _ = try await connection.query("SELECT pg_sleep(0.05)", logger: Logger(label: "t")).collect()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(pool.openConnections == 2, "eight concurrent calls, never more than the cap")
            pool.closeAll()
        }
    }

    @Test func aCancelledWaiterLeavesAtOnceAndTheSlotStaysUsable() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 1)
            let holder = await holdConnection(pool, seconds: 8)
            let waiter = Task { try await pool.withConnection { _ in 1 } }
            try await Task.sleep(for: .milliseconds(100))
            let start = ContinuousClock.now
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(ContinuousClock.now - start < .seconds(4), "the waiter left the queue without waiting for the holder's 8 s")
            try await holder.value
            // The one slot is free again and serves the next call.
            #expect(try await pool.withConnection { _ in 2 } == 2)
            #expect(pool.openConnections == 1)
            pool.closeAll()
        }
    }

    @Test func aServerErrorKeepsTheConnectionAnyOtherFailureReplacesIt() async throws {
        struct CallersOwnFailure: Error {}
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 1)
            let first = try await pool.withConnection { $0.id }
            // The server answered with an error: the session is still in step, so it is reused.
            await #expect(throws: PSQLError.self) {
                try await pool.withConnection { connection in
                    _ = try await connection.query("SELECT * FROM no_such_table", logger: Logger(label: "t")).collect()
                }
            }
            #expect(try await pool.withConnection { $0.id } == first)
            // Anything else leaves the connection in an unknown state: closed, a fresh one next.
            await #expect(throws: CallersOwnFailure.self) {
                try await pool.withConnection { _ in throw CallersOwnFailure() }
            }
            let after = try await pool.withConnection { $0.id }
            #expect(after != first, "a connection whose call failed outside the server is not reused")
            #expect(pool.openConnections == 1)
            pool.closeAll()
            await #expect(throws: LoopConnectionPool.Closed.self) { try await pool.withConnection { _ in 0 } }
            #expect(pool.openConnections == 0, "shutdown closed the idle connection")
        }
    }

    @Test func aConnectionTheServerClosedIsDroppedAndReplaced() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 1)
            let (first, pid) = try await connectionAndBackend(pool)
            // Terminated from outside while idle in the pool (a restarted server, an admin).
            let admin = try makePool(fixture, maximum: 1)
            try await admin.withConnection { connection in
                _ = try await connection.query("SELECT pg_terminate_backend(\(pid))", logger: Logger(label: "t")).collect()
            }
            admin.closeAll()
            // The pool notices when the socket closes; the next call gets a fresh connection.
            let deadline = ContinuousClock.now + .seconds(5)
            var next = first
            while next == first, ContinuousClock.now < deadline {
                next = (try? await pool.withConnection { connection in
                    _ = try await connection.query("SELECT 1", logger: Logger(label: "t")).collect()
                    return connection.id
                }) ?? first
                if next == first { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(next != first, "the terminated connection was replaced")
            #expect(pool.openConnections == 1, "the dead connection's slot was given back")
            pool.closeAll()
        }
    }

    @Test func startUpOpensTheMinimumAndNeverMoreThanTheMaximum() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 4, minimum: 3)
            await pool.warmUp()
            #expect(pool.openConnections == 3)
            // Warm connections serve calls without opening more.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { try await pool.withConnection { _ in } } }
                try await group.waitForAll()
            }
            #expect(pool.openConnections <= 4)
            pool.closeAll()
        }
    }

    @Test func aDatabaseThatIsDownFailsTheCallAndFreesTheSlot() async throws {
        // Nothing listens on this port: connecting fails at once.
        let closed = try ClosedPort()
        var configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: closed.port, username: "nobody", password: nil, database: "none", tls: .disable)
        configuration.options.connectTimeout = .seconds(3)
        let pool = LoopConnectionPool(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                      maximum: 1, logger: Logger(label: "pool-test"))
        for _ in 0..<3 {
            await #expect(throws: (any Error).self) { try await pool.withConnection { _ in 0 } }
        }
        #expect(pool.openConnections == 0, "failed connects do not use up the cap")
        pool.closeAll()
    }

    // Deadlines (``LoopConnectionPool/withDeadline``): what `withDatabaseDeadline` relies on.

    @Test func aQueryOnAHungServerEndsAtTheDeadlineAndTheConnectionIsReplaced() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 1)
            let (first, pid) = try await connectionAndBackend(pool)
            // The server process stops answering (no error, no close): only a client deadline helps.
            #expect(kill(pid, SIGSTOP) == 0)
            let start = ContinuousClock.now
            await #expect(throws: ServicePlatform.DatabaseUnavailable.self) {
                // The outer 30 s only keeps a broken deadline from hanging the test run.
                try await withTimeout(.seconds(30), {
                    try await LoopConnectionPool.withDeadline(.now() + .milliseconds(300)) {
                        try await pool.withConnection { connection in
                            _ = try await connection.query("SELECT 1", logger: Logger(label: "t")).collect()
                        }
                    }
                }, onTimeout: { TestFailure("the query on the stopped server outlived its deadline") })
            }
            let took = ContinuousClock.now - start
            kill(pid, SIGCONT)
            #expect(took >= .milliseconds(290) && took < .seconds(15), "ended at its deadline, not never: \(took)")
            // The hung connection was closed; the next call gets a fresh one in its slot.
            let next = try await pool.withConnection { connection in
                _ = try await connection.query("SELECT 1", logger: Logger(label: "t")).collect()
                return connection.id
            }
            #expect(next != first)
            #expect(pool.openConnections == 1)
            pool.closeAll()
        }
    }

    @Test func aWaiterLeavesAtItsDeadlineAndAFastCallKeepsItsConnection() async throws {
        try await Fixture.with([Fixture.greeter]) { fixture in
            let pool = try makePool(fixture, maximum: 1)
            // A call well within its deadline: the timer never fires, the connection stays.
            let first = try await LoopConnectionPool.withDeadline(.now() + .seconds(3)) { try await pool.withConnection { $0.id } }
            let holder = await holdConnection(pool, seconds: 8)
            let start = ContinuousClock.now
            await #expect(throws: ServicePlatform.DatabaseUnavailable.self) {
                try await LoopConnectionPool.withDeadline(.now() + .milliseconds(200)) { try await pool.withConnection { _ in 1 } }
            }
            #expect(ContinuousClock.now - start < .seconds(4), "the waiter left at its deadline, not after the holder's 8 s")
            try await holder.value
            #expect(try await pool.withConnection { $0.id } == first, "one connection served every call")
            #expect(pool.openConnections == 1)
            pool.closeAll()
        }
    }

    @Test func aServerThatNeverAnswersTheStartUpFailsTheConnectAtTheDeadline() async throws {
        // Accepts TCP connections and never says a word (a hung server, a wrong port).
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let port = try #require(silent.localAddress?.port)
        var configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: port, username: "nobody", password: nil, database: "none", tls: .disable)
        configuration.options.connectTimeout = .seconds(60)
        let pool = LoopConnectionPool(eventLoop: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                      maximum: 1, logger: Logger(label: "pool-test"))
        let start = ContinuousClock.now
        await #expect(throws: (any Error).self) {
            try await LoopConnectionPool.withDeadline(.now() + .milliseconds(300)) { try await pool.withConnection { _ in 0 } }
        }
        #expect(ContinuousClock.now - start < .seconds(20), "the connect gave up at the call's deadline, not its own 60 s")
        #expect(pool.openConnections == 0)
        pool.closeAll()
    }
}
