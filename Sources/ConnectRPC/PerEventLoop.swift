import NIOCore
import NIOPosix

/// One instance of a resource per event loop of NIO's singleton group (a database pool, an
/// HTTP client), and the one for the loop the caller runs on.
///
/// A pooled connection lives on one loop. A request whose task runs on another loop (the one
/// that accepted its socket) hands every write to that connection across threads, and its
/// task continues wherever the answer arrived: an eventfd wake-up per hop. With a resource per
/// loop, a request's database and HTTP calls stay on its own loop, however many loops the
/// process runs (`devctl serve` runs one unless `NIO_SINGLETON_GROUP_LOOP_COUNT` says more).
public final class PerEventLoop<Resource: Sendable>: Sendable {
    /// Every instance, in the group's loop order.
    public let all: [Resource]
    private let loops: [any EventLoop]

    public init(group: MultiThreadedEventLoopGroup = .singleton, _ make: (any EventLoop) throws -> Resource) rethrows {
        loops = Array(group.makeIterator())
        all = try loops.map(make)
    }

    /// The calling thread's loop's instance; off the group's threads (tests, tools), the first.
    public var current: Resource {
        guard all.count > 1, let loop = MultiThreadedEventLoopGroup.currentEventLoop,
              let index = loops.firstIndex(where: { $0 === loop }) else { return all[0] }
        return all[index]
    }

    /// Each instance's part of a total (connections, say) split over the group's loops, at
    /// least one: decided before the instances exist, to configure them.
    public static func share(of total: Int, group: MultiThreadedEventLoopGroup = .singleton) -> Int {
        let count = Array(group.makeIterator()).count
        return max(1, (total + count - 1) / count)
    }
}
