import Metrics
import NIOConcurrencyHelpers

/// The seed's gateway breaker: opens after `failureThreshold` consecutive failures, stays open
/// for `openDuration` (calls fail at once), then lets `halfOpenTrials` trial calls through; all
/// succeed → closed, one fails → open again. Exported as the `gateway_circuit_state` gauge
/// (0 closed, 1 half-open, 2 open).
final class CircuitBreaker: Sendable {
    enum State: Equatable, Sendable {
        case closed(consecutiveFailures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(admitted: Int, succeeded: Int)
    }

    let failureThreshold: Int
    let openDuration: Duration
    let halfOpenTrials: Int
    private let state = NIOLockedValueBox(State.closed(consecutiveFailures: 0))
    private let gauge: Gauge
    /// Where "now" comes from: the system clock, or a test's manual one.
    let clock: @Sendable () -> ContinuousClock.Instant

    init(name: String, failureThreshold: Int = 5, openDuration: Duration = .seconds(30), halfOpenTrials: Int = 3,
         clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.clock = clock
        self.failureThreshold = failureThreshold
        self.openDuration = openDuration
        self.halfOpenTrials = halfOpenTrials
        gauge = Gauge(label: "gateway_circuit_state", dimensions: [("upstream", name)])
        gauge.record(0)
    }

    var current: State { state.withLockedValue { $0 } }

    /// Whether a call may go out now; `.rejected` carries the time until the next trial.
    enum Admission: Equatable {
        case admitted
        case rejected(retryAfter: Duration)
    }

    func admit(now: ContinuousClock.Instant? = nil) -> Admission {
        let now = now ?? clock()
        let (admission, state) = self.state.withLockedValue { state -> (Admission, State) in
            switch state {
            case .closed:
                return (.admitted, state)
            case .open(let until):
                guard now >= until else { return (.rejected(retryAfter: until - now), state) }
                state = .halfOpen(admitted: 1, succeeded: 0)
                return (.admitted, state)
            case .halfOpen(let admitted, let succeeded):
                guard admitted < halfOpenTrials else { return (.rejected(retryAfter: .zero), state) }
                state = .halfOpen(admitted: admitted + 1, succeeded: succeeded)
                return (.admitted, state)
            }
        }
        publish(state)
        return admission
    }

    /// Reports how an admitted call went: `nil` when it says nothing about the upstream (the
    /// caller gave up first); a half-open trial slot is then handed back for another call.
    func record(_ success: Bool?, now: ContinuousClock.Instant? = nil) {
        guard let success else {
            let state = self.state.withLockedValue { state -> State in
                if case .halfOpen(let admitted, let succeeded) = state { state = .halfOpen(admitted: max(succeeded, admitted - 1), succeeded: succeeded) }
                return state
            }
            publish(state)
            return
        }
        record(success: success, now: now)
    }

    /// Reports how an admitted call went.
    func record(success: Bool, now: ContinuousClock.Instant? = nil) {
        let now = now ?? clock()
        let state = self.state.withLockedValue { state -> State in
            switch state {
            case .closed(let failures):
                if success {
                    state = .closed(consecutiveFailures: 0)
                } else if failures + 1 >= failureThreshold {
                    state = .open(until: now.advanced(by: openDuration))
                } else {
                    state = .closed(consecutiveFailures: failures + 1)
                }
            case .open:
                break // a call admitted before the breaker opened; its outcome changes nothing
            case .halfOpen(let admitted, let succeeded):
                if !success {
                    state = .open(until: now.advanced(by: openDuration))
                } else if succeeded + 1 >= halfOpenTrials {
                    state = .closed(consecutiveFailures: 0)
                } else {
                    state = .halfOpen(admitted: admitted, succeeded: succeeded + 1)
                }
            }
            return state
        }
        publish(state)
    }

    private func publish(_ state: State) {
        switch state {
        case .closed: gauge.record(0)
        case .halfOpen: gauge.record(1)
        case .open: gauge.record(2)
        }
    }
}
