import Foundation
import Synchronization

/// One thing that happened in the stack, as the dashboard streams it: a log line of a process
/// (or of devctl itself), or a new state of the stack.
public struct StackEvent: Sendable {
    public enum Payload: Sendable {
        /// A line a process wrote (`source`: its name; `devctl` for the supervisor's own lines).
        case log(source: String, line: String)
        /// The stack's state after a change (a process started, became ready, crashed; a build).
        case state(StackState)
    }

    /// Increasing from 1 for the life of the supervisor: Server-Sent Events' `id`, so a page that
    /// reconnects asks for what it missed.
    public let id: Int
    public let time: Date
    public let payload: Payload

    public init(id: Int, time: Date, payload: Payload) {
        self.id = id
        self.time = time
        self.payload = payload
    }
}

/// The supervisor's recent events in a bounded ring (the oldest leave first); readers poll
/// ``newestID`` and take what is new with ``events(after:limit:)``. Recording is a lock and an append — no encoding, no allocation beyond
/// the line itself — so a service logging 10k lines/s costs the supervisor nothing extra when
/// nobody watches; readers encode what they take.
public final class StackEvents: Sendable {
    public let capacity: Int
    private struct Ring {
        var events: [StackEvent] = []
        /// Index of the oldest event once the ring is full.
        var head = 0
        var nextID = 1
        var latestState: StackState?
        var closed = false
    }

    private let ring: Mutex<Ring>

    public init(capacity: Int = 20_000) {
        self.capacity = max(1, capacity)
        ring = Mutex(Ring())
    }

    /// The longest line held as is (the ring is bounded in lines; this bounds it in bytes).
    public static let maxLineBytes = 16 * 1024

    /// Records a log line of `source` (a longer line than ``maxLineBytes`` is cut, saying so).
    public func log(source: String, line: String) {
        guard line.utf8.count > Self.maxLineBytes else {
            append(.log(source: source, line: line))
            return
        }
        let kept = String(decoding: line.utf8.prefix(Self.maxLineBytes), as: UTF8.self)
        append(.log(source: source, line: kept + " … (\(line.utf8.count) bytes; the whole line is in the log file)"))
    }

    /// Records the stack's new state (the latest is also kept apart: ``latestState``).
    public func state(_ state: StackState) {
        append(.state(state), state: state)
    }

    private func append(_ payload: StackEvent.Payload, state: StackState? = nil) {
        ring.withLock { ring in
            guard !ring.closed else { return }
            let event = StackEvent(id: ring.nextID, time: Date(), payload: payload)
            ring.nextID += 1
            if let state { ring.latestState = state }
            if ring.events.count < capacity {
                ring.events.append(event)
            } else {
                ring.events[ring.head] = event
                ring.head = (ring.head + 1) % capacity
            }
        }
    }

    /// The newest state recorded.
    public var latestState: StackState? { ring.withLock { $0.latestState } }

    /// The id the next event will get (so "everything after `newestID`" is empty).
    public var newestID: Int { ring.withLock { $0.nextID - 1 } }

    /// What a reader gets for "after `id`".
    public struct Slice: Sendable {
        /// Events newer than the id asked for, oldest first (at most the limit).
        public var events: [StackEvent]
        /// Events after the id asked for are missing here: the ring dropped them, the limit cut
        /// them, or the id is newer than any event (another run's): the reader should start afresh.
        public var gap: Bool
        /// The newest id when the slice was taken (what to ask after next).
        public var newest: Int
    }

    /// Identifies this run of the supervisor (ids restart at 1 in the next): a reader's id from
    /// another run is a gap, whatever its number.
    public let epoch: String = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    /// Events with an id greater than `id`, oldest first; at most `limit` (the newest of them,
    /// when more are held).
    public func events(after id: Int, limit: Int = .max) -> Slice {
        ring.withLock { ring in
            let count = ring.events.count
            let newest = ring.nextID - 1
            let oldest = newest - count + 1
            let after = max(0, id)
            // An id beyond the newest (another run's): nothing to read here, start afresh.
            guard after <= newest else { return Slice(events: [], gap: true, newest: newest) }
            // Ids are consecutive, so the wanted events sit at known places in the ring.
            let first = max(after + 1, oldest, newest - max(0, limit) + 1)
            let gap = first > after + 1
            guard first <= newest else { return Slice(events: [], gap: gap, newest: newest) }
            let start = count < capacity ? 0 : ring.head
            var events: [StackEvent] = []
            events.reserveCapacity(newest - first + 1)
            for wanted in first...newest {
                events.append(ring.events[(start + wanted - oldest) % count])
            }
            return Slice(events: events, gap: gap, newest: newest)
        }
    }

    /// The supervisor is stopping: readers that follow the events end; later events are dropped.
    public func close() {
        ring.withLock { $0.closed = true }
    }

    public var isClosed: Bool { ring.withLock { $0.closed } }
}
