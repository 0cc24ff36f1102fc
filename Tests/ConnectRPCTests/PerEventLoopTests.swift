import ConnectRPC
import NIOCore
import NIOPosix
import Testing

/// A resource per event loop: a caller on a loop gets that loop's, everyone else the first, and
/// totals are shared so that the sum covers what was asked for.
@Suite struct PerEventLoopTests {
    final class Tag: Sendable {
        let loop: any EventLoop
        init(_ loop: any EventLoop) { self.loop = loop }
    }

    @Test func eachLoopGetsItsOwnInstance() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        let tags = PerEventLoop(group: group) { Tag($0) }
        #expect(tags.all.count == 3)
        for loop in group.makeIterator() {
            let seen = try await loop.submit { tags.current }.get()
            #expect(seen.loop === loop, "a task on a loop gets that loop's instance")
        }
        #expect(tags.current === tags.all[0], "off the group's threads: the first")
        #expect([10, 1, 3].map { PerEventLoop<Tag>.share(of: $0, group: group) } == [4, 1, 1])
        try await group.shutdownGracefully()
    }
}
