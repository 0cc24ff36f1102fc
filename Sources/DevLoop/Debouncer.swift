/// Turns a burst of file events into one change: the batch is due once nothing new arrived for
/// ``quiet``, or ``maxWait`` after its first event even if writes go on (an editor's save burst
/// is one change; a process writing constantly still triggers). Pure: the caller gives the time.
public struct Debouncer: Sendable {
    public let quiet: Duration
    public let maxWait: Duration
    private var pending: [String] = []
    private var seen: Set<String> = []
    private var first: ContinuousClock.Instant?
    private var last: ContinuousClock.Instant?

    public init(quiet: Duration = .milliseconds(150), maxWait: Duration = .seconds(2)) {
        self.quiet = quiet
        self.maxWait = maxWait
    }

    /// Notes a changed path (each path once per batch, in first-seen order).
    public mutating func record(_ path: String, at instant: ContinuousClock.Instant) {
        if first == nil { first = instant }
        last = instant
        if seen.insert(path).inserted { pending.append(path) }
    }

    /// When the pending batch falls due (nil: nothing pending).
    public var deadline: ContinuousClock.Instant? {
        guard let first, let last else { return nil }
        return min(last.advanced(by: quiet), first.advanced(by: maxWait))
    }

    /// The batch, if due at `instant` (and the debouncer starts over); else nil.
    public mutating func take(at instant: ContinuousClock.Instant) -> [String]? {
        guard let deadline, instant >= deadline else { return nil }
        defer {
            pending = []
            seen = []
            first = nil
            last = nil
        }
        return pending
    }
}
