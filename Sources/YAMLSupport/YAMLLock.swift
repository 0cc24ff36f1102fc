import Foundation

/// Serialises YAML parsing and decoding in the process.
///
/// Yams resolves scalar tags lazily, on first access, with regular expressions that one shared
/// `Resolver.default` holds, and Foundation's `NSRegularExpression` is not safe to use from several
/// threads at once on Linux (parallel config loads crashed in `swift_retain`). Documents are small,
/// so running every parse-and-decode under one lock costs nothing measurable.
public enum YAMLLock {
    private static let lock = NSLock()

    public static func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
