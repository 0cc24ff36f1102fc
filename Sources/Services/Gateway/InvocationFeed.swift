import ConnectRPC
import Foundation
import Logging
import PostgresNIO
import Protos

/// Fans gateway_db's `invocations` notifications out to every WatchInvocations stream of this
/// process. One pooled connection LISTENs while anyone watches (not one per watcher); it is
/// given back when the last watcher leaves. If it breaks, every watcher's stream ends with
/// `unavailable` (events may have been missed in between) and the next watcher listens anew.
actor InvocationFeed {
    static let channel = "invocations"
    /// Invocations a slow watcher may fall behind by before it is cut off (the feed never
    /// blocks on one watcher, and memory stays bounded).
    static let watcherBuffer = 1024

    private let platform: ServicePlatform
    private var watchers: [UInt64: AsyncThrowingStream<Gateway_V1_Invocation, any Error>.Continuation] = [:]
    private var nextID: UInt64 = 0
    private var listener: Task<Void, Never>?
    /// Subscribers waiting for LISTEN to be in effect.
    private var waitingForListen: [CheckedContinuation<Void, any Error>] = []
    private var listening = false
    /// Which listener is current: one stopped on purpose may end after a new one started.
    private var generation: UInt64 = 0

    init(platform: ServicePlatform) {
        self.platform = platform
    }

    /// A stream of the invocations stored from the moment this returns (LISTEN is in effect).
    func watch() async throws -> (id: UInt64, invocations: AsyncThrowingStream<Gateway_V1_Invocation, any Error>) {
        nextID += 1
        let id = nextID
        let (stream, continuation) = AsyncThrowingStream<Gateway_V1_Invocation, any Error>.makeStream(bufferingPolicy: .bufferingNewest(Self.watcherBuffer))
        watchers[id] = continuation
        if listener == nil { startListening() }
        if !listening {
            do {
                try await withCheckedThrowingContinuation { waitingForListen.append($0) }
            } catch {
                stop(id)
                throw error
            }
        }
        return (id, stream)
    }

    /// Ends a watcher's subscription; the last one out releases the connection.
    func stop(_ id: UInt64) {
        watchers.removeValue(forKey: id)?.finish()
        if watchers.isEmpty {
            listener?.cancel()
            listener = nil
            listening = false
        }
    }

    private func startListening() {
        let (platform, logger) = (platform, platform.logger)
        generation += 1
        let generation = generation
        // Isolated to the feed: the loop suspends at each await, so the feed stays free.
        listener = Task {
            do {
                // Held for as long as anyone watches: never under a caller's database deadline
                // (a task inherits its creator's).
                try await LoopConnectionPool.$deadline.withValue(nil) {
                    try await platform.database.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            self.listenStarted()
                            for try await notification in notifications {
                                guard let invocation = Self.decode(notification.payload) else {
                                    logger.warning("invocation notification not understood", metadata: ["bytes": "\(notification.payload.utf8.count)"])
                                    continue
                                }
                                self.publish(invocation)
                            }
                        }
                    }
                }
                self.listenEnded(generation, error: nil)
            } catch {
                if !Task.isCancelled {
                    logger.warning("invocation feed lost its database connection", metadata: ["error": "\(String(reflecting: error))"])
                }
                self.listenEnded(generation, error: error)
            }
        }
    }

    private func listenStarted() {
        listening = true
        let waiting = waitingForListen
        waitingForListen = []
        for waiter in waiting { waiter.resume() }
    }

    private func publish(_ invocation: Gateway_V1_Invocation) {
        for (id, watcher) in watchers {
            if case .dropped = watcher.yield(invocation) {
                // Fell a whole buffer behind: cut off rather than hold the feed back.
                watcher.finish(throwing: ConnectError(.resourceExhausted, "the watcher fell more than \(Self.watcherBuffer) invocations behind"))
                watchers.removeValue(forKey: id)
            }
        }
    }

    private func listenEnded(_ ended: UInt64, error: (any Error)?) {
        guard ended == generation, listener != nil else { return }  // stopped on purpose (no watchers left)
        listener = nil
        listening = false
        let failure = ConnectError(.unavailable, "the database connection WatchInvocations listens on was lost; watch again")
        let waiting = waitingForListen
        waitingForListen = []
        for waiter in waiting { waiter.resume(throwing: failure) }
        for watcher in watchers.values { watcher.finish(throwing: failure) }
        watchers.removeAll()
    }

    /// The trigger's JSON (migration 0003) as a message; nil when it is not that shape.
    static func decode(_ payload: String) -> Gateway_V1_Invocation? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any],
              let id = object["id"] as? String, let name = object["name"] as? String else { return nil }
        return .with {
            $0.id = id
            $0.name = name
            $0.success = object["success"] as? Bool ?? false
            $0.code = object["code"] as? String ?? ""
            $0.message = object["message"] as? String ?? ""
            $0.httpStatus = Int32(clamping: object["http_status"] as? Int ?? 0)
            $0.attempts = Int32(clamping: object["attempts"] as? Int ?? 0)
            $0.durationMs = Int32(clamping: object["duration_ms"] as? Int ?? 0)
            $0.createdAt = object["created_at"] as? String ?? ""
        }
    }
}
