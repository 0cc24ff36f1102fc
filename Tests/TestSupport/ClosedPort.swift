#if canImport(Glibc)
import Glibc
#endif
import DevctlCore

/// A loopback port that stays closed for as long as this object lives: bound (so nothing else
/// can take it) but never listening, so every connection is refused at once. "A port nobody
/// listens on" chosen by bind-then-close could be taken by anything the moment it is closed.
public final class ClosedPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        guard let (descriptor, port) = PortProbe.bindEphemeral() else { throw ClosedPortError() }
        self.descriptor = descriptor
        self.port = port
    }

    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }

    deinit { close(descriptor) }

    struct ClosedPortError: Error {}
}

/// Free loopback ports for a test's servers, all different: every one is bound until all are
/// chosen (choosing them one by one with bind-then-close can hand out the same port twice).
/// Between here and the server binding a port another process could still take it; fixtures
/// that start servers retry on "in use" (see ServiceDatabaseFixture, TemporaryStack).
public enum FreePorts {
    public static func take(_ count: Int) throws -> [Int] {
        let held = try (0..<count).map { _ in try ClosedPort() }
        return held.map(\.port)
    }

    public static func take() throws -> Int {
        try take(1)[0]
    }

    /// Whether a start failed because its port was taken meanwhile: devctl's own preflight
    /// ("… is in use") or the server finding out when it binds ("Address already in use", from
    /// PostgreSQL's log; an outgoing connection's ephemeral port can be the one chosen).
    public static func wasTaken(_ failure: String) -> Bool {
        failure.contains("is in use") || failure.contains("Address already in use")
    }
}
