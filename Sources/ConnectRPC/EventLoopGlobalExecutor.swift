#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import Synchronization

/// Swift Concurrency's global executor on NIO's singleton event loops, with jobs run as the
/// *generic* executor.
///
/// NIO's own take-over (`NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`)
/// runs every global job isolated to the loop's serial executor. Swift then sees each call into a
/// nonisolated `async` function (which must run on the generic executor) as a change of executor:
/// the task gives up the thread, is enqueued on the loop again and resumed from the loop's queue
/// (`swift_task_switch` → enqueue → lock → run). Counted with uprobes on the Greet chain: ~35
/// such enqueues per request in greeter and in caller, most of them hops to the generic executor
/// the task was already on. Run as the generic executor, the same calls continue in place; a job
/// is queued only when a task really waits (a continuation resumed by a socket, a new task).
///
/// The hook is the runtime's `swift_task_enqueueGlobal_hook`, the same entry point NIO uses: a
/// job goes to the loop the calling thread runs (no thread hop), or to the group's next loop
/// from other threads. Actors with their own executors are unaffected.
public enum EventLoopGlobalExecutor {
    /// Jobs handed to the event loops by the hook since it was installed (a metric: the cost of
    /// a request in executor round trips; see `/metrics`).
    public static var enqueuedJobs: Int { enqueued.load(ordering: .relaxed) }

    private static let enqueued = Atomic<Int>(0)
    private static let installed = Atomic<Bool>(false)
    private static let running = Atomic<Bool>(false)

    /// Whether ``install()`` succeeded: jobs go to the event loops, not to Dispatch.
    public static var isInstalled: Bool { running.load(ordering: .relaxed) }

    /// The runtime's generic executor: `SerialExecutorRef::generic()`, identity and
    /// implementation both zero (what Dispatch's global executor passes to `swift_job_run`).
    /// Not an optional: a zero identity is `Optional.none`'s representation.
    private static let generic = unsafeBitCast((UInt(0), UInt(0)), to: UnownedSerialExecutor.self)

    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    /// Installs the hook; `false` when the runtime has no hook to take, or another hook (NIO's,
    /// say) is in place. Call once, from the main thread, before any task runs.
    @discardableResult
    public static func install() -> Bool {
        guard MemoryLayout<UnownedSerialExecutor>.size == MemoryLayout<(UInt, UInt)>.size,
              installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged,
              let symbol = dlsym(dlopen(nil, RTLD_NOW), "swift_task_enqueueGlobal_hook") else { return false }
        // Before any task runs nothing else reads or writes the slot: a plain load and store.
        let slot = symbol.assumingMemoryBound(to: UnsafeRawPointer?.self)
        guard slot.pointee == nil else { return false }
        let hook: EnqueueGlobalHook = { job, _ in
            EventLoopGlobalExecutor.enqueued.wrappingAdd(1, ordering: .relaxed)
            // `any()` is the calling thread's own loop when it is one of the group's.
            MultiThreadedEventLoopGroup.singleton.any().execute {
                job.runSynchronously(on: EventLoopGlobalExecutor.generic)
            }
        }
        slot.pointee = unsafeBitCast(hook, to: UnsafeRawPointer.self)
        running.store(true, ordering: .relaxed)
        return true
    }
}
