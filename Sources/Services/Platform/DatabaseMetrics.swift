import Metrics
import NIOConcurrencyHelpers

/// Database pool gauges. postgres-nio keeps its pool statistics internal, so the platform counts
/// at its one choke point (``ServicePlatform/withDatabaseDeadline(_:_:)``): queries in flight
/// (≈ connections leased), failures, the pool's size, and whether the last readiness check passed.
final class DatabaseMetrics: Sendable {
    static let shared = DatabaseMetrics()

    private let inFlight = NIOLockedValueBox(0)
    private let inFlightGauge = Gauge(label: "db_queries_in_flight")
    private let maxConnectionsGauge = Gauge(label: "db_pool_max_connections")
    private let upGauge = Gauge(label: "db_up")
    private let failures = Counter(label: "db_query_failures_total")

    func configure(maximumConnections: Int) {
        maxConnectionsGauge.record(maximumConnections)
    }

    func begin() -> Int {
        let value = inFlight.withLockedValue { $0 += 1; return $0 }
        inFlightGauge.record(value)
        return value
    }

    func end(_: Int) {
        let value = inFlight.withLockedValue { $0 -= 1; return $0 }
        inFlightGauge.record(value)
    }

    func failed() { failures.increment() }

    func up(_ isUp: Bool) { upGauge.record(isUp ? 1 : 0) }
}
