import NIOConcurrencyHelpers

/// A token bucket that bounds retries to a share of traffic (as Finagle's and gRPC's retry
/// budgets do): every request deposits `depositPerRequest` tokens, a retry spends one, the
/// bucket holds at most `capacity`. With the defaults, retries add at most 20 % to the load on a
/// failing upstream, after an initial allowance of 10.
final class RetryBudget: Sendable {
    let capacity: Double
    let depositPerRequest: Double
    private let tokens: NIOLockedValueBox<Double>

    init(capacity: Double = 10, depositPerRequest: Double = 0.2) {
        self.capacity = capacity
        self.depositPerRequest = depositPerRequest
        tokens = NIOLockedValueBox(capacity)
    }

    func deposit() {
        tokens.withLockedValue { $0 = min(capacity, $0 + depositPerRequest) }
    }

    /// Spends a token for a retry; false when the budget is exhausted.
    func withdraw() -> Bool {
        tokens.withLockedValue { tokens in
            guard tokens >= 1 else { return false }
            tokens -= 1
            return true
        }
    }

    var available: Double { tokens.withLockedValue { $0 } }
}
