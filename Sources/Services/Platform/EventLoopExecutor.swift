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
    /// Call once, from the main thread, before any task starts: `devctl serve` does, first
    /// thing. Blocking work must then never run on a task (it would stall that loop's sockets):
    /// bcrypt and name lookups already run on their own thread pools.
    @discardableResult
    public static func runConcurrencyOnEventLoops() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
