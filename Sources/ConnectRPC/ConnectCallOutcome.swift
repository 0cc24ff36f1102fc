import Metrics
import NIOConcurrencyHelpers

/// How a Connect call ended, for the request log: the runtime fills it in, a logging middleware
/// that bound one with ``ConnectCallOutcome/$current`` reads it after the response.
public final class ConnectCallOutcome: Sendable {
    private let state = NIOLockedValueBox<(procedure: String?, code: String?)>((nil, nil))

    public init() {}

    /// The task's outcome box; `nil` when no middleware asked for one.
    @TaskLocal public static var current: ConnectCallOutcome?

    /// `/package.Service/Method` of the call, once the runtime matched it.
    public var procedure: String? { state.withLockedValue { $0.procedure } }
    /// `ok` or the Connect error code.
    public var code: String? { state.withLockedValue { $0.code } }

    func record(procedure: String, code: String) {
        state.withLockedValue { $0 = (procedure, code) }
    }
}

/// Per-RPC metrics by Connect code (swift-metrics; the process's backend exports them):
/// `connect_rpc_requests_total{procedure,code}` and `connect_rpc_duration_seconds{procedure}`.
///
/// One per procedure, made when the route is registered: the timer exists from the start and
/// each code's counter is made on its first use, then kept (a metrics factory lookup under the
/// registry's lock per call was what it replaced).
final class ConnectMetrics: Sendable {
    let procedure: String
    private let timer: Timer
    private let counters = NIOLockedValueBox<[String: Counter]>([:])

    init(procedure: String) {
        self.procedure = procedure
        timer = Timer(label: "connect_rpc_duration_seconds", dimensions: [("procedure", procedure)])
    }

    func record(code: String, duration: Duration) {
        let counter = counters.withLockedValue { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(label: "connect_rpc_requests_total", dimensions: [("procedure", procedure), ("code", code)])
            counters[code] = counter
            return counter
        }
        counter.increment()
        timer.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        ConnectCallOutcome.current?.record(procedure: procedure, code: code)
    }
}
