import NIOConcurrencyHelpers
import Prometheus

/// A Prometheus counter that mirrors a total kept elsewhere (an atomic the hot path bumps),
/// advanced by the difference at each scrape: the hot path pays one atomic add, not a metric.
struct ScrapedCounter: Sendable {
    private let counter: Prometheus.Counter
    private let read: @Sendable () -> Int
    private let reported = NIOLockedValueBox(0)

    init(_ counter: Prometheus.Counter, read: @escaping @Sendable () -> Int) {
        self.counter = counter
        self.read = read
    }

    func report() {
        let total = read()
        reported.withLockedValue { last in
            if total > last { counter.increment(by: Int64(total - last)) }
            last = max(last, total)
        }
    }
}
