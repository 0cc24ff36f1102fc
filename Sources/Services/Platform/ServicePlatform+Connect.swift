import ConnectRPC
import Foundation

extension ServicePlatform {
    /// A database call for an RPC handler: a database that does not answer (in 3 s) becomes
    /// `unavailable` with `what` in the message; the error's type is logged, never its text.
    @discardableResult
    public func connectDatabase<T: Sendable>(_ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withDatabaseDeadline(.seconds(3), body)
        } catch {
            logger.warning("database call failed", metadata: ["what": "\(what)", "error": "\(String(reflecting: type(of: error)))"])
            throw ConnectError(.unavailable, "\(what): database unavailable, try again")
        }
    }

    /// A duration setting in seconds or with a unit (`500ms`, `5s`, `1m`), else `fallback`.
    public func duration(_ key: String, default fallback: Duration) -> Duration {
        settings[key].flatMap(ServiceSettings.parseDuration) ?? fallback
    }
}

extension ServiceSettings {
    /// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value > 0 else { return nil }
            return .milliseconds(Int64(value * scale * 1000))
        }
        guard let seconds = Double(trimmed), seconds > 0 else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }
}
