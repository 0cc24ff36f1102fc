import DevctlCore

/// A command named a service the stack does not have.
public struct UnknownServiceError: UserFacingError, Equatable {
    public var name: String
    public var known: [String]

    public init(name: String, known: [String]) {
        self.name = name
        self.known = known
    }

    public var message: String { "unknown service \"\(name)\"" }
    public var hint: String? { "services in devctl.yaml: \(known.joined(separator: ", "))" }
    public var exitCode: Int32 { 2 }
}
