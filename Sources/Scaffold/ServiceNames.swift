import DevctlCore

/// Every spelling of a new service's name, derived once from its kebab-case name.
public struct ServiceNames: Sendable, Equatable {
    /// `billing-api`: devctl.yaml, URLs, folders of non-Swift services.
    public let kebab: String
    /// `BillingApi`: Swift types and folders, proto services.
    public let pascal: String
    /// `billing_api`: proto packages, databases, SQL.
    public let snake: String
    /// `billingApi`: Swift variables.
    public let camel: String

    /// Names devctl uses itself (processes, folders, log files).
    public static let reserved: Set<String> = ["devctl", "postgres", "postgresql", "edge", "supervisor", "all", "platform", "stack", "services", "protos", "test", "tests"]

    /// Checks `name`: kebab-case `[a-z][a-z0-9-]{1,30}`, no double or trailing hyphen, not reserved.
    public init(_ name: String) throws(ScaffoldError) {
        let allowed = name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        guard (2...31).contains(name.count), allowed, let first = name.first, first.isLetter,
              !name.hasSuffix("-"), !name.contains("--") else {
            throw ScaffoldError.usage("invalid service name \"\(name)\": use kebab-case, 2 to 31 characters of a-z, 0-9 and single hyphens, starting with a letter (e.g. billing, billing-api)")
        }
        guard !Self.reserved.contains(name) else {
            throw ScaffoldError.usage("\"\(name)\" is reserved by devctl; choose another name")
        }
        kebab = name
        let words = name.split(separator: "-").map(String.init)
        pascal = words.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        snake = words.joined(separator: "_")
        camel = (words.first ?? "") + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}
