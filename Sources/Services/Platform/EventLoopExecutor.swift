import Foundation
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
    /// With it a request's tasks stay on the loop that read it.
    ///
    /// One event loop unless `NIO_SINGLETON_GROUP_LOOP_COUNT` says otherwise: with one, a
    /// request never changes threads at all (its client and database connections live on the
    /// same loop); with more, a pooled connection is often on another loop and every call to it
    /// is a cross-thread hand-off. Measured on 2 cores with the whole chain on the machine, one
    /// loop costs ~20 % less CPU per Greet than two. A service that needs more than one core
    /// sets the variable (the pods' CPU limit is the natural value).
    ///
    /// Call once, from the main thread, before any task starts: `devctl serve` does, first
    /// thing. Blocking work must then never run on a task (it would stall that loop's sockets):
    /// bcrypt and name lookups already run on their own thread pools.
    @discardableResult
    public static func runConcurrencyOnEventLoops(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if (environment["NIO_SINGLETON_GROUP_LOOP_COUNT"] ?? "").isEmpty {
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
