import ConnectRPC
import Foundation
import Synchronization
import NIOCore
import NIOPosix

extension ServicePlatform {
    /// Makes NIO's event loops (the ones Hummingbird, AsyncHTTPClient and postgres-nio already
    /// use) Swift Concurrency's global executor for this process.
    ///
    /// Without it every request crosses threads several times: the socket is read on an event
    /// loop, the handler runs on Dispatch's global pool, each database or HTTP call goes back to
    /// a loop and its answer comes back to the pool — a futex or eventfd wake-up per hop, the
    /// largest single cost of a request measured against the Go peer (bench/greet-vs-go.sh).
    /// With it a request's tasks stay on the loop that read it, and run there as the generic
    /// executor (``EventLoopGlobalExecutor``: an `async` call does not bounce through the loop's
    /// queue, as it did under NIO's own take-over: 7–13 % more CPU per Greet in greeter and caller).
    ///
    /// One event loop, unless `NIO_SINGLETON_GROUP_LOOP_COUNT` asks for more: a service is one
    /// process among many (its siblings, PostgreSQL, the edge; replicas in Kubernetes), and one
    /// busy thread per process wastes least. Measured on 2 cores with the Greet chain on the
    /// machine: ~20 % less CPU per request than one loop per core. With more loops a request
    /// still stays on one thread (the database pools and HTTP clients are per loop, see
    /// ``PerEventLoop``), so a service given several cores (its pod's CPU limit) scales.
    ///
    /// Call once, from the main thread, before any task starts: `devctl serve` does, first
    /// thing. Blocking work must then never run on a task (it would stall that loop's sockets):
    /// bcrypt and name lookups already run on their own thread pools.
    @discardableResult
    public static func runConcurrencyOnEventLoops(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if (environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] ?? "").isEmpty {
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        concurrencyOnEventLoopsRequested.store(true, ordering: .relaxed)
        return EventLoopGlobalExecutor.install()
    }

    private static let concurrencyOnEventLoopsRequested = Atomic<Bool>(false)

    /// Logged at start-up: the process asked for its tasks on the event loops and did not get
    /// them (a runtime without the hook, or another hook already in place). It still works, on
    /// Dispatch, at a measurably higher cost per request; the log says so rather than leaving a
    /// slow service unexplained.
    func warnIfConcurrencyIsNotOnEventLoops() {
        guard Self.concurrencyOnEventLoopsRequested.load(ordering: .relaxed), !EventLoopGlobalExecutor.isInstalled else { return }
        logger.warning("tasks run on Dispatch, not on the event loops: the executor hook could not be installed (another hook in place, or a runtime without one); requests cost more CPU")
    }
}
