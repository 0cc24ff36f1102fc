/// Something that lives as long as a stack (the dashboard): started by ``Supervisor/start(companions:)``
/// once the stack's lock is held and its ports are checked, stopped after everything else.
public protocol StackCompanion: Sendable {
    /// Starts it; returns a line for the console (where to find it), if any.
    func start() async throws -> String?
    /// Stops it (the supervisor is stopping).
    func stop() async
}
