import NIOConcurrencyHelpers

/// Failed-login throttling, per account and per client: password guessing gets slower with
/// every failure instead of costing one bcrypt per try.
///
/// The first `freeFailures` failures within `window` cost nothing extra; from then on each
/// failure locks the key for `baseLockout`, doubling per further failure (at most `maxLockout`).
/// While a key is locked, attempts are refused (429 + `Retry-After`) without checking the
/// password, and do not extend the lock. A successful login clears the account's key.
/// Memory is bounded: at most `capacity` keys; expired keys are dropped first, then the oldest.
final class LoginThrottle: Sendable {
    struct Policy: Sendable {
        var freeFailures: Int
        var window: Duration
        var baseLockout: Duration
        var maxLockout: Duration

        /// Per account: 5 free failures, then 2 s, 4 s, 8 s … up to 15 min.
        static let account = Policy(freeFailures: 5, window: .seconds(900), baseLockout: .seconds(2), maxLockout: .seconds(900))
        /// Per client address: many accounts may sit behind one NAT, so more slack.
        static let client = Policy(freeFailures: 20, window: .seconds(900), baseLockout: .seconds(2), maxLockout: .seconds(900))
    }

    private struct Entry {
        var failures: Int
        var lastFailure: ContinuousClock.Instant
        var lockedUntil: ContinuousClock.Instant?
    }

    let policy: Policy
    let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(policy: Policy, capacity: Int = 100_000) {
        self.policy = policy
        self.capacity = capacity
    }

    /// How long `key` must still wait, or `nil` when it may try now.
    func lockedFor(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLockedValue { entries in
            guard let until = entries[key]?.lockedUntil, until > now else { return nil }
            return until - now
        }
    }

    /// Counts a failed attempt; returns the lock it starts, if any.
    @discardableResult
    func recordFailure(_ key: String, now: ContinuousClock.Instant = .now) -> Duration? {
        entries.withLockedValue { entries in
            var entry = entries[key] ?? Entry(failures: 0, lastFailure: now, lockedUntil: nil)
            if now - entry.lastFailure > policy.window { entry = Entry(failures: 0, lastFailure: now, lockedUntil: nil) }
            entry.failures += 1
            entry.lastFailure = now
            var lock: Duration?
            let beyond = entry.failures - policy.freeFailures
            if beyond >= 0 {
                let doubled = policy.baseLockout * (1 << min(beyond, 20))
                lock = min(doubled, policy.maxLockout)
                entry.lockedUntil = now.advanced(by: lock ?? .zero)
            }
            if entries[key] == nil, entries.count >= capacity { makeRoom(&entries, now: now) }
            entries[key] = entry
            return lock
        }
    }

    /// Forgets `key` (a successful login).
    func reset(_ key: String) {
        _ = entries.withLockedValue { $0.removeValue(forKey: key) }
    }

    private func makeRoom(_ entries: inout [String: Entry], now: ContinuousClock.Instant) {
        entries = entries.filter { _, entry in
            now - entry.lastFailure <= policy.window || (entry.lockedUntil.map { $0 > now } ?? false)
        }
        // Still full of live keys (a flood of distinct names): drop the oldest tenth.
        guard entries.count >= capacity else { return }
        let oldest = entries.sorted { $0.value.lastFailure < $1.value.lastFailure }.prefix(max(1, capacity / 10)).map(\.key)
        for key in oldest { entries.removeValue(forKey: key) }
    }
}

/// At most `limit` bcrypt computations at once; the rest are refused at once (answered 503)
/// rather than queued behind a flood, which would make every login slow.
final class WorkGate: Sendable {
    let limit: Int
    private let running = NIOLockedValueBox(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Runs `body` if a slot is free; `nil` when all are taken.
    func tryRun<T: Sendable>(_ body: () async throws -> T) async rethrows -> T? {
        let admitted = running.withLockedValue { count -> Bool in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { return nil }
        defer { running.withLockedValue { $0 -= 1 } }
        return try await body()
    }
}
