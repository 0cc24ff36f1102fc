import Foundation
import Stack
import Testing

/// The ring the dashboard reads: ids, bounds and gaps (what a reconnecting page relies on).
@Suite struct StackEventsTests {
    private func lines(_ slice: StackEvents.Slice) -> [String] {
        slice.events.compactMap { if case .log(_, let line) = $0.payload { line } else { nil } }
    }

    @Test func eventsAfterAnIdAreTheNewerOnesInOrder() {
        let events = StackEvents(capacity: 10)
        for index in 1...5 { events.log(source: "greeter", line: "line \(index)") }
        #expect(events.newestID == 5)
        let slice = events.events(after: 2)
        #expect(slice.events.map(\.id) == [3, 4, 5])
        #expect(lines(slice) == ["line 3", "line 4", "line 5"])
        #expect(!slice.gap)
        #expect(events.events(after: 5).events.isEmpty)
        #expect(events.events(after: 0).events.count == 5)
        #expect(!events.events(after: 0).gap)
    }

    @Test func theRingKeepsTheNewestAndReportsWhatALateReaderMissed() {
        let events = StackEvents(capacity: 4)
        for index in 1...10 { events.log(source: "caller", line: "line \(index)") }
        let all = events.events(after: 0)
        #expect(all.events.map(\.id) == [7, 8, 9, 10])
        #expect(all.gap, "events 1…6 were dropped: the reader must start afresh")
        #expect(!events.events(after: 6).gap, "a reader that saw 6 missed nothing")
        #expect(events.events(after: 8).events.map(\.id) == [9, 10])
        #expect(events.events(after: 42).gap, "an id from another run of the stack")
    }

    @Test func aLimitKeepsTheNewest() {
        let events = StackEvents(capacity: 100)
        for index in 1...50 { events.log(source: "auth", line: "line \(index)") }
        #expect(events.events(after: 0, limit: 3).events.map(\.id) == [48, 49, 50])
    }

    @Test func statesAreEventsAndTheLatestIsKeptApart() {
        let events = StackEvents(capacity: 2)
        let state = StackState(supervisorPID: 1, startedAt: Date(), detached: false, phase: .running, processes: [])
        events.state(state)
        for index in 1...5 { events.log(source: "edge", line: "line \(index)") }
        #expect(events.latestState == state, "the latest state survives the ring")
        events.close()
        events.log(source: "edge", line: "after close")
        #expect(events.newestID == 6)
        #expect(events.isClosed)
    }
}
