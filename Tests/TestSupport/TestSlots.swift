/// A counting semaphore for async tests (waiters resume in arrival order).
///
/// The whole suite runs in one process on a small machine: dozens of tests each starting their
/// own PostgreSQL at once push a plain INSERT past the services' 3 s database budget, which is a
/// failure of the machine, not of the code. Fixtures that start heavy things take a slot first.
public actor TestSlots {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(_ count: Int) {
        free = count
    }

    /// Slots for test PostgreSQL clusters, whoever starts them: the service and database
    /// fixtures, and whole stacks.
    public static let postgresClusters = TestSlots(4)

    public func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func release() {
        if waiting.isEmpty {
            free += 1
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// The pools whose slot the current task already holds.
    @TaskLocal private static var held: Set<ObjectIdentifier> = []

    /// Runs `body` holding a slot; the slot is released however `body` ends. Re-entrant: a
    /// nested call inside `body` (a second stack used only as a client) takes no second slot,
    /// so holders never wait on each other.
    nonisolated public func with<Result>(_ body: () async throws -> Result) async throws -> Result {
        let identity = ObjectIdentifier(self)
        if Self.held.contains(identity) { return try await body() }
        await acquire()
        do {
            let result = try await Self.$held.withValue(Self.held.union([identity])) { try await body() }
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}
